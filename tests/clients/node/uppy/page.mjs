// The partner's web page of shared/tests/e2e_browser_uppy.rs: Uppy (`@uppy/core` +
// `@uppy/aws-s3` 5.x, Companion-protocol mode with `endpoint`) uploads the files the test serves
// under /files/ with an upload token, never an API key. Bundled by server.mjs (esbuild) at test time.
//
// URL fragment: token=ut_...&visibility=public|private&files=name:type,name:type
// For each file it reports the upload-success body, or the error; for single-request uploads
// (no callback to the service: the bucket's event finalizes them) it polls the upload's status
// until it is settled; then it shows each image's thumbnail and reports its natural size.
// The report goes to the server (POST /result) and into <body data-result>.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token');
const visibility = params.get('visibility') || 'public';
const files = (params.get('files') || '').split(',').filter(Boolean).map((entry) => {
  const [name, type] = entry.split(':');
  return { name, type };
});
const endpoint = `${location.origin}/api/v1/partner/asset/uploads/${visibility}`;
const authorization = { Authorization: `Bearer ${token}` };

async function report(result) {
  document.body.dataset.result = JSON.stringify(result);
  await fetch('/result', { method: 'POST', body: JSON.stringify(result) });
}

// Multipart above 10 MiB (the plugin's own default is 100 MiB), so the 12 MB file goes in parts
// and the 8 MB one by one presigned POST.
const multipartAbove = 10 * 1024 * 1024;

// A single-request upload's `fields.key` is `staging/{companyId}/{uploadId}`; the page asks the
// upload's status until it is ready or refused. Bounded so a stuck upload is reported, not waited on.
async function settled(key) {
  const uploadId = key.split('/').pop();
  let last;
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const response = await fetch(`${endpoint}/${encodeURIComponent(uploadId)}`, { headers: authorization });
    last = { status: response.status, body: await response.json() };
    if (response.status !== 200 || last.body.status !== 'pending') return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { ...last, stuck: true };
}

function displayed(url) {
  return new Promise((resolve) => {
    const img = document.createElement('img');
    img.addEventListener('load', () => resolve({ naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight }));
    img.addEventListener('error', () => resolve({ error: 'the image did not load' }));
    img.src = url;
    document.body.append(img);
  });
}

let step = 'start';

async function run() {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, {
    endpoint,
    headers: authorization,
    shouldUseMultipart: (file) => file.size > multipartAbove,
  });
  const outcome = {};
  uppy.on('upload-success', (file, response) => {
    outcome[file.name] = { uploaded: true, body: response.body, uploadURL: response.uploadURL };
  });
  uppy.on('upload-error', (file, error, response) => {
    outcome[file.name] = { uploaded: false, error: String(error), response: response ?? null };
  });
  for (const { name, type } of files) {
    step = `fetching /files/${name}`;
    // Into the page's memory: a fetched body read with blob() is kept in Chromium's blob store,
    // which refuses large ones when the disk is nearly full ("Failed to fetch").
    const bytes = await (await fetch(`/files/${encodeURIComponent(name)}`)).arrayBuffer();
    uppy.addFile({ name, type, data: new Blob([bytes], { type }), source: 'test' });
  }
  step = 'uploading';
  const result = await uppy.upload();
  step = 'after the upload';
  for (const file of result.successful ?? []) {
    const entry = outcome[file.name];
    if (!entry.body.asset) entry.status = await settled(entry.body.key);
    const asset = entry.body.asset ?? entry.status?.body?.asset;
    if (asset?.thumbURL) entry.thumbnail = await displayed(asset.thumbURL);
  }
  await report({ files: outcome, failed: (result.failed ?? []).map((file) => file.name) });
}

window.addEventListener('error', (event) => report({ pageError: String(event.message) }));
window.addEventListener('unhandledrejection', (event) => report({ pageError: String(event.reason) }));
run().catch((error) => report({ pageError: `${step}: ${error}` }));
