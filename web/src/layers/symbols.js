// The connectivity layers' marks, drawn on canvases (no sprite server), for the map and the
// legend alike. Each meaning has a shape or pattern of its own besides its colour (WCAG 2.2
// SC 1.4.1): sites are a dot (up), a triangle (degraded) or a cross (down); speeds a pattern per
// class; a fall or rise against the compared quarter an arrow in every tile of the pattern.

export const SITE_STATES = ['up', 'degraded', 'down'];
export const SPEEDS = ['slow', 'fair', 'good', 'fast']; // < 5, 5-25, 25-100, >= 100 Mbps
export const SPEED_LIMITS = [5, 25, 100];
export const CHANGES = ['fell', 'same', 'rose']; // <= -25 %, between, >= +25 %
export const CHANGE_STEP = 0.25;

const INK = { up: '#1b5e20', degraded: '#8a5300', down: '#b00020' };
// Speeds in their own hues and shapes, apart from the alerts' severity patterns (cross,
// diagonal, dots, horizontal: legend.js) so that a tile is never read as an alert.
const SPEED_STYLE = {
  slow: { color: '#4a0f63', tint: '#e6d7ee', marks: 'vertical' },
  fair: { color: '#2f4b8a', tint: '#d8e0f1', marks: 'squares' },
  good: { color: '#12706b', tint: '#d2eeec', marks: 'rings' },
  fast: { color: '#2e6b1f', tint: '#e1f2da', marks: 'none' },
};

function canvas(size, ratio) {
  const c = document.createElement('canvas');
  c.width = c.height = size * ratio;
  const g = c.getContext('2d');
  g.scale(ratio, ratio);
  return { c, g };
}

// A site: white halo, then its state's shape in its colour.
export function drawSite(state, size = 14, ratio = 2) {
  const { c, g } = canvas(size, ratio);
  const m = size / 2;
  g.lineWidth = 2;
  g.strokeStyle = '#fff';
  g.fillStyle = INK[state];
  if (state === 'up') {
    g.beginPath();
    g.arc(m, m, size * 0.3, 0, Math.PI * 2);
    g.fill();
    g.stroke();
  } else if (state === 'degraded') {
    g.beginPath();
    g.moveTo(m, 1.5);
    g.lineTo(size - 1.5, size - 2);
    g.lineTo(1.5, size - 2);
    g.closePath();
    g.fill();
    g.stroke();
  } else {
    g.fillRect(1, 1, size - 2, size - 2);
    g.strokeStyle = '#fff';
    g.lineWidth = 2.2;
    g.beginPath();
    g.moveTo(3.5, 3.5);
    g.lineTo(size - 3.5, size - 3.5);
    g.moveTo(size - 3.5, 3.5);
    g.lineTo(3.5, size - 3.5);
    g.stroke();
  }
  return c;
}

// A cable landing point: a navy square with a white ring (a station on the shore).
export function drawLanding(size = 14, ratio = 2) {
  const { c, g } = canvas(size, ratio);
  g.fillStyle = '#1a237e';
  g.fillRect(1, 1, size - 2, size - 2);
  g.strokeStyle = '#fff';
  g.lineWidth = 1.6;
  g.beginPath();
  g.arc(size / 2, size / 2, size * 0.22, 0, Math.PI * 2);
  g.stroke();
  return c;
}

function lines(g, size, kind, color) {
  g.strokeStyle = color;
  g.fillStyle = color;
  g.lineWidth = 1.4;
  const line = (x1, y1, x2, y2) => {
    g.beginPath();
    g.moveTo(x1, y1);
    g.lineTo(x2, y2);
    g.stroke();
  };
  if (kind === 'cross') {
    line(0, 0, size, size);
    line(size, 0, 0, size);
  } else if (kind === 'diagonal') {
    line(0, size, size, 0);
    line(-size / 2, size / 2, size / 2, -size / 2);
    line(size / 2, size * 1.5, size * 1.5, size / 2);
  } else if (kind === 'dots') {
    for (const [x, y] of [
      [size / 4, size / 4],
      [(3 * size) / 4, (3 * size) / 4],
    ]) {
      g.beginPath();
      g.arc(x, y, 1.6, 0, Math.PI * 2);
      g.fill();
    }
  } else if (kind === 'vertical') {
    line(size / 4, 0, size / 4, size);
    line((3 * size) / 4, 0, (3 * size) / 4, size);
  } else if (kind === 'squares') {
    g.fillRect(size / 8, size / 8, size / 4, size / 4);
    g.fillRect((5 * size) / 8, (5 * size) / 8, size / 4, size / 4);
  } else if (kind === 'rings') {
    g.beginPath();
    g.arc(size / 2, size / 2, size / 4, 0, Math.PI * 2);
    g.stroke();
  }
}

// A measured-performance fill: the speed's tint and marks, and arrows for a fall or a rise.
export function drawSpeed(speed, change = 'same', size = 16, ratio = 2) {
  const { c, g } = canvas(size, ratio);
  const style = SPEED_STYLE[speed];
  g.fillStyle = style.tint;
  g.fillRect(0, 0, size, size);
  lines(g, size, style.marks, style.color);
  if (change !== 'same') {
    // A solid arrow in the tile's upper half, on white so it reads over any speed's marks.
    const up = change === 'rose';
    g.fillStyle = '#fff';
    g.fillRect(size / 2 - 5, 1, 10, 8);
    g.fillStyle = '#000';
    g.beginPath();
    if (up) {
      g.moveTo(size / 2, 2);
      g.lineTo(size / 2 + 4, 8);
      g.lineTo(size / 2 - 4, 8);
    } else {
      g.moveTo(size / 2, 8);
      g.lineTo(size / 2 + 4, 2);
      g.lineTo(size / 2 - 4, 2);
    }
    g.closePath();
    g.fill();
  }
  return c;
}

// Outage areas and grid cells with sites down: hatching in the state's colour on a light tint.
export function drawOutage(state, size = 16, ratio = 2) {
  const { c, g } = canvas(size, ratio);
  g.fillStyle = state === 'up' ? 'rgba(255,255,255,0)' : 'rgba(255,255,255,0.35)';
  g.fillRect(0, 0, size, size);
  if (state === 'down') lines(g, size, 'cross', INK.down);
  else if (state === 'degraded') lines(g, size, 'diagonal', INK.degraded);
  else lines(g, size, 'dots', INK.up);
  return c;
}

export function speedOf(mbps) {
  if (mbps === null || mbps === undefined) return null;
  const i = SPEED_LIMITS.findIndex((limit) => mbps < limit);
  return SPEEDS[i < 0 ? SPEEDS.length - 1 : i];
}

export function changeOf(ratio) {
  if (ratio === null || ratio === undefined) return 'same';
  if (ratio <= -CHANGE_STEP) return 'fell';
  if (ratio >= CHANGE_STEP) return 'rose';
  return 'same';
}

export const STATE_INK = INK;

function image(c) {
  return c.getContext('2d').getImageData(0, 0, c.width, c.height);
}

// Every image the layers use, added to the map once.
export function addImages(map) {
  const add = (name, c) => map.hasImage(name) || map.addImage(name, image(c), { pixelRatio: 2 });
  for (const s of SITE_STATES) {
    add(`site-${s}`, drawSite(s));
    add(`outage-${s}`, drawOutage(s));
  }
  add('landing', drawLanding());
  for (const s of SPEEDS) for (const ch of CHANGES) add(`speed-${s}-${ch}`, drawSpeed(s, ch));
}
