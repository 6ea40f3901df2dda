// Drives a real Node HTTP client against the running service (shared/tests/real_clients.rs).
//   node upload.mjs fetch|form-data BASE_URL API_KEY FILE NAME
// Prints the HTTP status on the first line, then the answer's body.
import { readFileSync } from 'node:fs';

const [client, base, key, path, name] = process.argv.slice(2);
const url = new URL('/api/v1/partner/asset/upload/public', base);
const bytes = readFileSync(path);

if (client === 'fetch') {
  // Node's own fetch (undici) with the standard FormData, as in a browser.
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'application/pdf' }), name);
  const response = await fetch(url, { method: 'POST', headers: { 'X-Api-Key': key }, body: form });
  console.log(response.status);
  console.log(await response.text());
} else if (client === 'form-data') {
  // The form-data package's own submit (what axios and got use under Node with it).
  const { default: FormData } = await import('form-data');
  const form = new FormData();
  form.append('file', bytes, { filename: name, contentType: 'application/pdf' });
  form.submit(
    { host: url.hostname, port: url.port, path: url.pathname, headers: { 'X-Api-Key': key } },
    (err, response) => {
      if (err) throw err;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        console.log(response.statusCode);
        console.log(body);
      });
    },
  );
} else {
  throw new Error(`unknown client ${client}`);
}
