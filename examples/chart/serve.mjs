// serve.mjs: a static server for the chart example, as a developer's dev
// server would be: /examples/ from this repository, /node_modules/ from
// test/examples (where `npm ci` put lightweight-charts and the tickcast
// package). test/examples/chart.test.mjs uses it too.
//
//   cd test/examples && npm ci && node ../../examples/chart/serve.mjs 8000
//   tickcast --cors-origins http://127.0.0.1:8000
//   open http://127.0.0.1:8000/examples/chart/index.html?api=http://127.0.0.1:8080/

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript' };

// serveStatic listens on 127.0.0.1:port (0: any free port) and resolves
// to the server once it listens.
export function serveStatic(port = 0) {
  const roots = { examples: path.join(repo, 'examples'), node_modules: path.join(repo, 'test/examples/node_modules') };
  const srv = http.createServer(async (req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname).split('/').filter(Boolean);
    const root = roots[p[0]];
    if (!root || p.includes('..')) { res.writeHead(404).end(); return; }
    const file = path.join(root, ...p.slice(1));
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' }).end(body);
    } catch { res.writeHead(404).end(); }
  });
  return new Promise((ok) => srv.listen(port, '127.0.0.1', () => ok(srv)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const srv = await serveStatic(Number(process.argv[2] || 8000));
  console.log(`serving http://127.0.0.1:${srv.address().port}/examples/chart/index.html`);
}
