// A real Blynk Node client (npm blynk-library@0.5.4) driven by a test over
// stdin/stdout, like blynk_py_client.py: node blynk_node_client.js HOST PORT TOKEN
const readline = require('readline');
const Blynk = require('blynk-library');

const [host, port, token] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

const blynk = new Blynk.Blynk(token, {
  connector: new Blynk.TcpClient({ addr: host, port: parseInt(port, 10) }),
});
for (let pin = 0; pin < 16; pin++) {
  const vpin = new blynk.VirtualPin(pin);
  vpin.on('write', (values) => say({ event: 'write', pin, values }));
}
blynk.on('connect', () => say({ event: 'connected' }));
blynk.on('disconnect', () => say({ event: 'disconnected' }));
blynk.on('error', (error) => say({ event: 'error', text: String(error) }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.split(' ').filter((w) => w.length > 0);
  if (command[0] === 'quit') {
    process.exit(0);
  } else if (command[0] === 'vw') {
    blynk.virtualWrite(parseInt(command[1], 10), command.slice(2).join(' '));
  } else if (command[0] === 'sync') {
    if (command.length > 1) {
      command.slice(1).forEach((p) => blynk.syncVirtual(parseInt(p, 10)));
    } else {
      blynk.syncAll();
    }
  }
  say({ event: 'done', command: command[0] });
}).on('close', () => process.exit(0));
