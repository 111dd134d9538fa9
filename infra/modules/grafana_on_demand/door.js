// The front door's routing: a CloudFront viewer-request function (cloudfront-js-2.0) that
// chooses, for each request at the door, where it goes. The rules live here only: the
// simulated edge runs this very file, and checks every cf.updateRequestOrigin call against
// AWS's documented schema. One KeyValueStore entry, written by the controller, says where
// Grafana is; a missing, malformed or unreadable entry means asleep, and so does one that
// CloudFront would refuse as an origin (an IP address, a port in the name, too long).
import cf from 'cloudfront';

const kvs = cf.kvs();
const ENTRY = 'door';
const CONTROLLER = '/_ondemand';
const MARKER = 'x-grafana-ondemand';
const BOTS = /bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|monitor|uptime|curl|wget/i;

function header(request, name) {
  const h = request.headers[name];
  return h ? h.value : '';
}

// A name CloudFront takes as an origin's domainName, hostHeader or sni: no colon, not an IP
// address, at most 253 characters (and 64 where it is pinned as a certificate name).
function isOriginName(name, max) {
  return typeof name === 'string' && name.length > 0 && name.length <= max &&
    name.indexOf(':') === -1 && !/^[0-9.]+$/.test(name) && /^[A-Za-z0-9.-]+$/.test(name);
}

// A person's browser opening a page: Sec-Fetch-Mode navigate, or, without Fetch Metadata, a
// GET asking for HTML. Scripts, HEAD requests and known robots never are.
function isNavigation(request) {
  if (request.method !== 'GET' || BOTS.test(header(request, 'user-agent'))) {
    return false;
  }
  const mode = header(request, 'sec-fetch-mode');
  if (mode) {
    return mode === 'navigate';
  }
  // Media types are case-insensitive (RFC 9110, 8.3.1).
  return header(request, 'accept').toLowerCase().indexOf('text/html') !== -1;
}

// The entry as the controller writes it, or null for asleep.
async function where() {
  try {
    const entry = JSON.parse(await kvs.get(ENTRY));
    if (entry && entry.state === 'running' && isOriginName(entry.origin, 253) &&
        (entry.protocol === 'http' || entry.protocol === 'https') &&
        isOriginName(entry.host, entry.protocol === 'https' ? 64 : 253) &&
        typeof entry.port === 'number' && entry.port % 1 === 0 &&
        (entry.port === 80 || entry.port === 443 || (entry.port >= 1024 && entry.port <= 65535))) {
      return entry;
    }
  } catch (e) {
    // A missing key throws, and so does bad JSON: asleep.
  }
  return null;
}

function asleep() {
  const headers = {
    'retry-after': { value: '30' },
    'cache-control': { value: 'no-store' },
    'content-type': { value: 'text/plain; charset=utf-8' },
  };
  headers[MARKER] = { value: 'door' };
  return {
    statusCode: 503,
    statusDescription: 'Service Unavailable',
    headers: headers,
    body: 'Grafana is asleep. Open this address in a browser to wake it.\n',
  };
}

async function handler(event) {
  const request = event.request;
  if (request.uri === CONTROLLER || request.uri.indexOf(CONTROLLER + '/') === 0) {
    return request;
  }
  const entry = await where();
  if (entry) {
    const origin = {
      domainName: entry.origin,
      hostHeader: entry.host,
      originAccessControlConfig: { enabled: false },
      // This helper's words are http and https (http-only and https-only are the
      // distribution's OriginProtocolPolicy, refused here).
      customOriginConfig: {
        port: entry.port,
        protocol: entry.protocol,
        sslProtocols: ['TLSv1.2'],
      },
      // Without it CloudFront sends the task the controller origin's custom headers: the
      // door's secret.
      customHeaders: {},
    };
    if (entry.protocol === 'https') {
      origin.sni = entry.host;
      origin.allowedCertificateNames = [entry.host];
    }
    cf.updateRequestOrigin(origin);
    return request;
  }
  if (isNavigation(request)) {
    return request;
  }
  return asleep();
}
