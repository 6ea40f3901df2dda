// The partner's site for shared/tests/e2e_browser_uppy.rs, and the browser's HTTP proxy.
//
//   node server.mjs API_BASE_URL S3_ENDPOINT_URL FILES_DIR
// Listens on 127.0.0.1 (a free port) and prints `listening http://127.0.0.1:PORT`, then one line
// `api METHOD PATH STATUS` per call to the service, `s3 METHOD STATUS` per request to S3, and
// `result JSON` when the page reports.
//
// As the site (one origin, as behind CloudFront): the page (page.mjs, bundled with esbuild at
// start), the test's files under /files/, and every /api/ request passed to the service
// (`cargo lambda watch`, which answers no CORS preflight; on AWS API Gateway does).
//
// As the proxy Chromium is told to use (`--proxy-server`): requests to the service pass through
// (logged `get METHOD PATH STATUS`), any other host is refused;
// requests to S3 (moto) get the CORS answers S3 gives from the bucket's CORS configuration. moto
// 5.2.5 reads that configuration only for its GETs: its PUT, UploadPart and POST answers carry no
// `Access-Control-Expose-Headers`, so a page could never read an `ETag`, and its preflights are
// answered by flask-cors for any origin. Here the bucket's own rules decide, as S3 evaluates them
// (S3 User Guide, "Troubleshooting CORS" / "CORS configuration": the first rule whose origin,
// method and requested headers match; none: the preflight is refused with 403 and an actual
// request gets no CORS headers, so the browser hides its answer). moto's answer to a form POST
// also lacks the `ETag` and `Location` headers S3 sends, which Uppy reads (without an `ETag` it
// never finishes the upload): they are added from a HEAD of the object the form named.
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const [apiBase, s3Base, filesDir] = process.argv.slice(2);
if (!apiBase || !s3Base || !filesDir) {
  console.error('usage: node server.mjs API_BASE_URL S3_ENDPOINT_URL FILES_DIR');
  process.exit(2);
}
const api = new URL(apiBase);
const s3 = new URL(s3Base);
const here = fileURLToPath(new URL('.', import.meta.url));
const bundle = await build({
  entryPoints: [join(here, 'page.mjs')],
  bundle: true,
  format: 'esm',
  target: 'chrome120',
  write: false,
  logLevel: 'error',
});
const script = bundle.outputFiles[0].contents;
const html = '<!doctype html><html><head><meta charset="utf-8"><title>Uppy upload</title></head>'
  + '<body><script type="module" src="/page.js"></script></body></html>';

function forward(req, res, target, path, { onAnswer, label }) {
  const upstream = request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path,
    headers: { ...req.headers, host: target.host },
  }, async (answer) => {
    console.log(`${label} ${answer.statusCode}`);
    try {
      const headers = onAnswer ? await onAnswer(answer.headers, answer.statusCode) : answer.headers;
      res.writeHead(answer.statusCode, headers);
      answer.pipe(res);
    } catch (error) {
      console.log(`${label} error ${error.message}`);
      res.writeHead(502);
      res.end();
    }
  });
  upstream.on('error', (error) => {
    console.log(`${label} error ${error.message}`);
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'proxy', message: error.message } }));
  });
  req.pipe(upstream);
}

// ------------------------------------------------------------------ S3's CORS, from the bucket

// moto checks no signature, but answers an object request without any `Authorization` as an
// anonymous one (403 on a private bucket): a SigV4-shaped header with the local credentials.
const MOTO_AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, '
  + 'SignedHeaders=host, Signature=0000';

const text = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);

async function corsRules(bucket) {
  const answer = await fetch(new URL(`/${bucket}?cors`, s3), { headers: { authorization: MOTO_AUTHORIZATION } });
  if (answer.status !== 200) return [];
  const xml = await answer.text();
  return [...xml.matchAll(/<CORSRule>([\s\S]*?)<\/CORSRule>/g)].map(([, rule]) => ({
    origins: text(rule, 'AllowedOrigin'),
    methods: text(rule, 'AllowedMethod'),
    headers: text(rule, 'AllowedHeader').map((h) => h.toLowerCase()),
    expose: text(rule, 'ExposeHeader'),
    maxAge: text(rule, 'MaxAgeSeconds')[0],
  }));
}

// S3 allows one `*` wildcard in AllowedOrigin and AllowedHeader.
const wildcard = (pattern, value) => {
  const [head, tail] = pattern.split('*');
  return tail === undefined ? pattern === value
    : value.startsWith(head) && value.endsWith(tail) && value.length >= head.length + tail.length;
};

async function matchingRule(bucket, origin, method, requestedHeaders) {
  for (const rule of await corsRules(bucket)) {
    if (!rule.origins.some((o) => wildcard(o, origin))) continue;
    if (!rule.methods.includes(method)) continue;
    if (!requestedHeaders.every((h) => rule.headers.some((p) => wildcard(p, h)))) continue;
    return rule;
  }
  return null;
}

function corsHeaders(rule, origin, requestedHeaders) {
  const headers = {
    'access-control-allow-origin': rule.origins.includes('*') ? '*' : origin,
    'access-control-allow-methods': rule.methods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (requestedHeaders.length) headers['access-control-allow-headers'] = requestedHeaders.join(', ');
  if (rule.expose.length) headers['access-control-expose-headers'] = rule.expose.join(', ');
  if (rule.maxAge) headers['access-control-max-age'] = rule.maxAge;
  return headers;
}

// moto's own (flask-cors) CORS headers are dropped: only the bucket's rules speak.
const withoutCors = (headers) => Object.fromEntries(
  Object.entries(headers).filter(([name]) => !name.startsWith('access-control-') && name !== 'vary'),
);

async function toS3(req, res, url) {
  const bucket = decodeURIComponent(url.pathname.split('/')[1] || '');
  const origin = req.headers.origin;
  const label = `s3 ${req.method}`;
  if (req.method === 'OPTIONS' && origin && req.headers['access-control-request-method']) {
    const requested = (req.headers['access-control-request-headers'] || '')
      .split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    const rule = await matchingRule(bucket, origin, req.headers['access-control-request-method'], requested);
    console.log(`${label} ${rule ? 200 : 403} ${req.headers['access-control-request-method']} [${requested}]`);
    if (!rule) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      return res.end('<Error><Code>AccessForbidden</Code><Message>CORSResponse: This CORS request is not allowed.</Message></Error>');
    }
    res.writeHead(200, corsHeaders(rule, origin, requested));
    return res.end();
  }
  const rule = origin ? await matchingRule(bucket, origin, req.method, []) : null;
  const form = req.method === 'POST' && !url.pathname.slice(1).includes('/') ? formKey(req) : null;
  forward(req, res, s3, url.pathname + url.search, {
    label,
    onAnswer: async (headers, status) => ({
      ...withoutCors(headers),
      ...(form && status >= 200 && status < 300 ? await postAnswer(bucket, await form) : {}),
      ...(rule ? corsHeaders(rule, origin, []) : {}),
    }),
  });
}

// A form POST's `key` field, read from the start of the body as it streams by (the form's fields
// come before the file; Uppy sends them in that order, and S3 ignores fields after the file).
function formKey(req) {
  return new Promise((resolve) => {
    let head = '';
    const look = (chunk) => {
      head += chunk.toString('latin1');
      const found = /name="key"\r\n\r\n([^\r]*)\r\n/.exec(head);
      if (found || head.length > 65536) {
        req.off('data', look);
        resolve(found ? Buffer.from(found[1], 'latin1').toString('utf8') : null);
      }
    };
    req.on('data', look);
    req.on('end', () => resolve(null));
  });
}

// The headers S3 answers a successful form POST with and moto 5.2.5 leaves out: the object's
// `ETag` and its `Location` (AWS, "POST Object", responses). `@uppy/aws-s3` reads both.
async function postAnswer(bucket, key) {
  if (!key) return {};
  const path = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const head = await fetch(new URL(path, s3), { method: 'HEAD', headers: { authorization: MOTO_AUTHORIZATION } });
  const etag = head.headers.get('etag');
  return etag ? { etag, location: new URL(path, s3).href } : {};
}

// ------------------------------------------------------------------ the site

async function site(req, res, path, search) {
  if (path.startsWith('/api/')) {
    return forward(req, res, api, path + search, { label: `api ${req.method} ${path}` });
  }
  if (req.method === 'POST' && path === '/result') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    console.log(`result ${Buffer.concat(chunks).toString('utf8').replace(/\n/g, ' ')}`);
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'GET' && path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(html);
  }
  if (req.method === 'GET' && path === '/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    return res.end(script);
  }
  if (req.method === 'GET' && path.startsWith('/files/')) {
    try {
      // basename: only files directly in FILES_DIR.
      const bytes = await readFile(join(filesDir, basename(decodeURIComponent(path.slice(7)))));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(bytes);
    } catch {
      res.writeHead(404);
      return res.end();
    }
  }
  res.writeHead(404);
  return res.end();
}

const server = createServer((req, res) => {
  // Through the proxy the request line holds the absolute URL; directly, only the path.
  const url = new URL(req.url, `http://${req.headers.host}`);
  const self = `127.0.0.1:${server.address().port}`;
  let handled;
  if (url.host === s3.host) handled = toS3(req, res, url);
  else if (url.host === self) handled = site(req, res, url.pathname, url.search);
  else if (url.host === api.host) {
    // The assets' URLs (the thumbnail the page shows) name the service directly.
    handled = Promise.resolve(forward(req, res, api, url.pathname + url.search, { label: `get ${req.method} ${url.pathname}` }));
  } else {
    // Nothing else: no request leaves the machine (Chromium's own background calls included).
    res.writeHead(403);
    res.end();
    return;
  }
  handled.catch((error) => {
    console.log(`error ${req.method} ${url.host}: ${error.message}`);
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
