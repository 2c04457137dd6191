// Sets keys with the npm `memcached` client straight to the given servers, in its own process
// (the client patches globals that other libraries then trip on). Input on stdin as JSON:
// {"servers": ["host:port", ...], "keys": ["k", ...]}; each key's value is "v:<key>".
'use strict';
const Memcached = require('memcached');

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const { servers, keys } = JSON.parse(input);
  const client = new Memcached(servers, { retries: 0, timeout: 2000, poolSize: 10 });
  const set = (key) => new Promise((resolve, reject) => client.set(key, `v:${key}`, 0, (err) => (err ? reject(err) : resolve())));
  try {
    for (let i = 0; i < keys.length; i += 5) await Promise.all(keys.slice(i, i + 5).map(set));
    process.stdout.write(`set ${keys.length} keys\n`);
    client.end();
    process.exit(0);
  } catch (err) {
    process.stderr.write(`npm memcached client failed: ${err}\n`);
    process.exit(1);
  }
});
