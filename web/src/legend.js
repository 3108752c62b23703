// How severity and urgency are drawn, on the map and in the list alike. Colour is never the
// only carrier (WCAG 2.2 SC 1.4.1): each severity has a pattern and its word, each urgency a
// line style and its word.

export const SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'];
export const URGENCIES = ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'];

// Fills: dark to light with severity; each pattern distinct in shape, not only in colour.
export const SEVERITY_STYLE = {
  Extreme: { color: '#7f0000', pattern: 'cross' },
  Severe: { color: '#c43c00', pattern: 'diagonal' },
  Moderate: { color: '#a86b00', pattern: 'dots' },
  Minor: { color: '#1f5f99', pattern: 'horizontal' },
  Unknown: { color: '#5c5c5c', pattern: 'none' },
};

// Outlines: width and dashes by urgency (MapLibre line-dasharray, in line widths).
export const URGENCY_STYLE = {
  Immediate: { width: 3.5, dash: [1, 0] },
  Expected: { width: 2.5, dash: [3, 1.5] },
  Future: { width: 2, dash: [0.5, 1.5] },
  Past: { width: 1, dash: [1, 0] },
  Unknown: { width: 1.5, dash: [4, 1, 1, 1] },
};

export function severityOf(value) {
  return SEVERITY_STYLE[value] ? value : 'Unknown';
}

export function urgencyOf(value) {
  return URGENCY_STYLE[value] ? value : 'Unknown';
}

// The pattern of a severity drawn on a canvas: for MapLibre's fill-pattern and the list swatches.
export function drawPattern(severity, size = 16, ratio = 2) {
  const { color, pattern } = SEVERITY_STYLE[severity];
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size * ratio;
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.strokeStyle = color;
  g.fillStyle = color;
  g.lineWidth = 1.6;
  const line = (x1, y1, x2, y2) => {
    g.beginPath();
    g.moveTo(x1, y1);
    g.lineTo(x2, y2);
    g.stroke();
  };
  if (pattern === 'cross') {
    line(0, 0, size, size);
    line(size, 0, 0, size);
  } else if (pattern === 'diagonal') {
    line(0, size, size, 0);
    line(-size / 2, size / 2, size / 2, -size / 2);
    line(size / 2, size * 1.5, size * 1.5, size / 2);
  } else if (pattern === 'dots') {
    for (const [x, y] of [
      [4, 4],
      [12, 12],
    ]) {
      g.beginPath();
      g.arc(x, y, 2, 0, Math.PI * 2);
      g.fill();
    }
  } else if (pattern === 'horizontal') {
    line(0, size / 2, size, size / 2);
  }
  return canvas;
}
