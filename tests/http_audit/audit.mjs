// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints one JSON line per audit and exits non-zero on any failure or warning.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
for (const r of results) console.log(JSON.stringify(r));
const bad = results.filter((r) => r.status !== 'ok');
console.log(`audits: ${results.length}, ok: ${results.length - bad.length}, not ok: ${bad.length}`);
process.exit(bad.length ? 1 : 0);
