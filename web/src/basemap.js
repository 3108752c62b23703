// What the map draws on, as the service says (GET /api/v1/basemap, service/webapp/routes.py):
// - the MapLibre style at TAMPERE_MAP_STYLE_URL, where the installation has internet;
// - else the PMTiles archives an operator imported (`tampere basemap import`), read in byte
//   ranges from this origin through the `pmtiles` package's MapLibre protocol: a vector archive
//   drawn with plain fills and lines per layer its metadata names (no text: no glyph server), a
//   raster one as it is;
// - else the service's own country boundaries (Natural Earth), generalised per zoom.
// Unless a style URL is set, nothing here asks any other origin for anything.

import maplibregl from 'maplibre-gl';
import { Protocol } from 'pmtiles';
import { dateTime, listOf, t } from './i18n.js';

export const COUNTRIES = '/api/v1/basemap/countries';
const CONFIG = '/api/v1/basemap';

// The built-in base, also when the service cannot be asked (offline without a kept copy).
const BUILT_IN = { style: null, archives: [], countries: COUNTRIES };

// Fills and lines for layers whose names say what they hold (OpenMapTiles, Protomaps, Shortbread
// and tippecanoe's own names share these words); any other layer gets the neutral pair.
const LOOKS = [
  { match: /water|ocean|sea|lake|river|stream/i, fill: '#bcd3ea', line: '#8fb1d6' },
  { match: /park|green|wood|forest|grass|nature|landcover/i, fill: '#dbe8cf', line: '#b7cfa0' },
  { match: /building/i, fill: '#ddd8d0', line: '#c4bcb1' },
  { match: /road|street|transport|highway|rail|path/i, fill: '#ffffff', line: '#b9b3a8' },
  { match: /boundar|admin|border/i, fill: 'rgba(0,0,0,0)', line: '#8a8a8a', dash: [3, 2] },
];
const NEUTRAL = { fill: '#ece8df', line: '#a9a39a' };

let protocol = null;

// What the service says to draw; the built-in boundaries when it cannot be asked.
export async function loadBasemap() {
  try {
    const response = await fetch(CONFIG, { credentials: 'same-origin' });
    if (response.ok) return { ...BUILT_IN, ...(await response.json()) };
  } catch {
    // offline without a kept copy
  }
  return BUILT_IN;
}

// The base of the map's style: {url} for a style to load whole, else {sources, layers} to put
// under the alerts, and the words the attribution gives for it.
export function baseStyle(config) {
  if (config.style) return { url: config.style, source: t('map.sourceStyle') };
  if (config.archives?.length) return archivesStyle(config.archives);
  return countriesStyle(config.countries || COUNTRIES, config.countries_source?.version);
}

// The built-in boundaries, named with the Natural Earth version the service has installed.
function countriesStyle(url, version) {
  return {
    source: version ? t('map.sourceVersion', { version }) : t('map.source'),
    sources: { countries: { type: 'geojson', data: `${url}?zoom=0`, attribution: 'Natural Earth' } },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#dfe9f3' } },
      { id: 'land', type: 'fill', source: 'countries', paint: { 'fill-color': '#f7f5f0' } },
      { id: 'borders', type: 'line', source: 'countries', paint: { 'line-color': '#8a8a8a', 'line-width': 0.6 } },
    ],
  };
}

function archivesStyle(archives) {
  if (!protocol) {
    protocol = new Protocol();
    maplibregl.addProtocol('pmtiles', protocol.tile);
  }
  const sources = {};
  const layers = [{ id: 'basemap-background', type: 'background', paint: { 'background-color': '#f4f2ee' } }];
  archives.forEach((archive, index) => {
    const id = `basemap-${index}`;
    const common = {
      // Absolute: the protocol's reader fetches it from the main thread and from workers alike.
      url: `pmtiles://${new URL(archive.url, location.href).href}`,
      attribution: archive.attribution || archive.name,
    };
    if (archive.kind === 'raster') {
      sources[id] = { type: 'raster', tileSize: 256, ...common };
      layers.push({ id: `${id}-raster`, type: 'raster', source: id });
      return;
    }
    sources[id] = { type: 'vector', ...common };
    // Polygons filled, then every line and outline drawn over all fills; no symbols.
    const lines = [];
    for (const layer of archive.vector_layers || []) {
      const look = LOOKS.find((l) => l.match.test(layer.id)) || NEUTRAL;
      const zooms = {
        ...(Number.isInteger(layer.minzoom) ? { minzoom: layer.minzoom } : {}),
        ...(Number.isInteger(layer.maxzoom) ? { maxzoom: layer.maxzoom + 1 } : {}),
      };
      const base = { source: id, 'source-layer': layer.id, ...zooms };
      layers.push({
        id: `${id}-${layer.id}-fill`,
        type: 'fill',
        ...base,
        filter: ['==', ['geometry-type'], 'Polygon'],
        paint: { 'fill-color': look.fill },
      });
      lines.push({
        id: `${id}-${layer.id}-line`,
        type: 'line',
        ...base,
        filter: ['in', ['geometry-type'], ['literal', ['LineString', 'Polygon']]],
        paint: { 'line-color': look.line, 'line-width': 0.8, ...(look.dash ? { 'line-dasharray': look.dash } : {}) },
      });
    }
    layers.push(...lines);
  });
  const names = listOf(archives.map((a) => `${a.name} (${dateTime(new Date(a.imported_at))})`));
  return { source: t('map.sourceArchive', { names }), sources, layers };
}
