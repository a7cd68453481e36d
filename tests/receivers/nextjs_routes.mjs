// Serves Next.js App Router route handlers (modules exporting GET, POST...) under plain Node
// 18+, the way Next.js calls them: a Web Request in, a Web Response out, and the dynamic
// segments as `params`, an object as in Next.js 13/14, which the seed's snippets are written for.
// Usage: node nextjs_routes.mjs PORT '/api/webqris/status/[invoiceId]=route.mjs' ...
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [port, ...specs] = process.argv.slice(2);
const routes = await Promise.all(specs.map(async (spec) => {
  const [pattern, file] = spec.split('=');
  const segments = [];
  const source = pattern.replace(/\[(\w+)\]/g, (_, name) => {
    segments.push(name);
    return '([^/]+)';
  });
  const handlers = await import(pathToFileURL(path.resolve(file)).href);
  return { regex: new RegExp(`^${source}$`), segments, handlers };
}));

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const route = routes.find((r) => r.regex.test(url.pathname));
  const handler = route && route.handlers[req.method];
  if (!handler) {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ success: false, message: 'No such route' }));
    return;
  }
  const values = route.regex.exec(url.pathname).slice(1).map(decodeURIComponent);
  const params = Object.fromEntries(route.segments.map((name, i) => [name, values[i]]));
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const request = new Request(url, {
    method: req.method,
    headers: req.headers,
    body: ['GET', 'HEAD'].includes(req.method) ? undefined : Buffer.concat(chunks),
  });
  try {
    const response = await handler(request, { params });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    // What Next.js does with a handler that throws: a 500, and the error in its log.
    console.error(error);
    res.writeHead(500).end();
  }
}).listen(Number(port), '127.0.0.1', () => console.log('READY'));
