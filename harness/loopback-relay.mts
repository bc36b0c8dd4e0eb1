import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestNetwork } from './netns.mts';
import { ROOT } from './service.mts';
import { waitFor } from './wait.mts';

/*
 * Makes a stand-in that listens on this machine's loopback (127.0.0.1:PORT)
 * answer at the same address inside a test host (a network namespace has a
 * loopback of its own): a listener there forwards each connection through a
 * Unix socket, which both namespaces share through the file system, to here.
 * So a program on that host uses the stand-in's URL unchanged.
 */

const pipeBoth = (a: Socket, b: Socket) => {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
};

const LISTENER = `
  const net = require('node:net');
  const [port, socket] = process.argv.slice(1);
  net.createServer((client) => {
    const upstream = net.connect(socket);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }).listen(Number(port), '127.0.0.1', () => console.log('relay ready'));`;

export async function relayLoopbackPort(network: TestNetwork, host: string, port: number): Promise<{ close(): Promise<void> }> {
  const socketPath = join(tmpdir(), `loopback-relay-${process.pid}-${port}.sock`);
  rmSync(socketPath, { force: true });
  const server: Server = createServer((client) => pipeBoth(client, connect(port, '127.0.0.1')));
  server.listen(socketPath);
  await once(server, 'listening');
  const listener = network.start(host, [process.execPath, '-e', LISTENER, String(port), socketPath], { env: {}, cwd: ROOT });
  await waitFor(() => (listener.output().includes('relay ready') ? true : undefined), `the loopback relay on ${host}`, 10_000);
  return {
    close: async () => {
      server.close();
      rmSync(socketPath, { force: true });
    },
  };
}
