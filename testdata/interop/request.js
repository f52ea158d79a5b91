// Sends one WebDAV request with Node's http module and prints, as JSON, the
// final status and every interim (1xx) response it saw, with its Progress
// header. Usage: node request.js METHOD URL [DESTINATION]
//
// Node's http module sends no User-Agent of its own; this script sends
// "node/<version>" as most Node HTTP libraries do, or none when UA is set to
// the empty string in the environment.
'use strict';
const http = require('http');

const [method, url, destination] = process.argv.slice(2);
const headers = destination ? { Destination: destination } : {};
const ua = process.env.UA ?? `node/${process.version}`;
if (ua !== '') headers['User-Agent'] = ua;
const interim = [];
const req = http.request(url, { method, headers }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => { body += chunk; });
  res.on('end', () => {
    console.log(JSON.stringify({ status: res.statusCode, interim, body }));
  });
});
// 'information' is emitted for each 1xx other than 101 (Node ≥ 10).
req.on('information', (info) => {
  interim.push({ status: info.statusCode, progress: info.headers['progress'] || '' });
});
req.on('error', (err) => {
  console.log(JSON.stringify({ status: 0, interim, error: String(err) }));
  process.exitCode = 1;
});
req.end();
