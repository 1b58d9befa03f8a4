// A full SCAN with node-redis 4, which turns every cursor into a JavaScript
// number: prints "<keys> <unique keys> <calls> <largest cursor>".
// Usage: node scan.mjs PORT
import { createClient } from 'redis';

const port = Number(process.argv[2]);
const client = createClient({ socket: { host: '127.0.0.1', port } });
client.on('error', (e) => { console.error(e); process.exit(2); });
await client.connect();

let cursor = 0;
let calls = 0;
let largest = 0;
const keys = [];
do {
  const reply = await client.scan(cursor, { COUNT: 100 });
  cursor = reply.cursor;
  largest = Math.max(largest, cursor);
  keys.push(...reply.keys);
  calls += 1;
  if (calls > 100000) {
    console.error(`no end after ${calls} calls`);
    process.exit(3);
  }
} while (cursor !== 0);

// The iterator the library offers does the same walk.
let iterated = 0;
for await (const _key of client.scanIterator({ COUNT: 1000 })) {
  iterated += 1;
}
if (iterated !== keys.length) {
  console.error(`scanIterator listed ${iterated}, scan ${keys.length}`);
  process.exit(4);
}
await client.quit();
console.log(`${keys.length} ${new Set(keys).size} ${calls} ${largest}`);
