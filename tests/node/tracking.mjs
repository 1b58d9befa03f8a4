// node-redis 5 with its client-side cache (RESP3, CLIENT TRACKING ON):
// reads a set of keys over and over while another client changes them, and
// counts reads that returned anything but the latest value. Prints
// `ok hits=<cache hits> misses=<misses> stale=<stale reads>`.
import { createClient } from 'redis5';

const url = process.argv[2];
const cached = createClient({ url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
const other = createClient({ url });
await cached.connect();
await other.connect();

const keys = Array.from({ length: 40 }, (_, i) => `csc:${i}`);
const latest = new Map();
for (const k of keys) {
  await other.set(k, 'v0');
  latest.set(k, 'v0');
}
let stale = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let round = 1; round <= 10; round++) {
  // Read every key twice: the second read is the cache's.
  for (let pass = 0; pass < 2; pass++) {
    for (const k of keys) {
      const v = await cached.get(k);
      if (v !== latest.get(k)) stale++;
    }
  }
  // Change half of them; the server tells the cache before it answers the SET.
  for (const k of keys.filter((_, i) => (i + round) % 2 === 0)) {
    const v = `v${round}`;
    await other.set(k, v);
    latest.set(k, v);
  }
  await sleep(30);
}
const stats = cached.clientSideCache.stats();
await cached.quit();
await other.quit();
if (stats.hitCount === 0) {
  console.log(`no cache hits: ${JSON.stringify(stats)}`);
  process.exit(1);
}
console.log(`ok hits=${stats.hitCount} misses=${stats.missCount} stale=${stale}`);
