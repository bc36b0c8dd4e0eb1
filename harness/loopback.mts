import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';

/**
 * A loopback port that nothing listens on, for a process about to bind it.
 * It is drawn below the kernel's ephemeral range (ip_local_port_range), from
 * which every outgoing connection takes its local port: a port from that range
 * (what listen(0) hands out) can be taken by someone's next connection before
 * the process bound it. CI lost a collector's health check port so once
 * ("bind: address already in use"). No port is handed out twice in a process,
 * and none that fetch() refuses to connect to.
 */
export async function freePort(): Promise<number> {
  if (!(EPHEMERAL_START > FIRST_PORT)) throw new Error(`the ephemeral ports start at ${EPHEMERAL_START}, no room below them above ${FIRST_PORT}`);
  for (let draw = 0; draw < 1_000; draw++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (EPHEMERAL_START - FIRST_PORT));
    if (!isDrawable(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port in ${FIRST_PORT}-${EPHEMERAL_START - 1}`);
}

/** Above the well-known and most registered ports that a developer's machine may be running. */
const FIRST_PORT = 10_000;
const LINUX_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Where the ephemeral ports start: Linux says; elsewhere Linux's default, below macOS's and Windows' 49152. */
const EPHEMERAL_START = existsSync(LINUX_PORT_RANGE) ? Number(readFileSync(LINUX_PORT_RANGE, 'utf8').trim().split(/\s+/)[0]) : 32_768;
const handedOut = new Set<number>();
/**
 * The Fetch standard's bad ports at or above FIRST_PORT (https://fetch.spec.whatwg.org/#bad-port):
 * fetch() fails on them with "bad port" before it connects. CI drew 10080 once.
 */
const FETCH_BAD_PORTS = new Set([10_080]);

/** Whether freePort may hand out this port: not yet handed out, and one fetch() connects to. */
export function isDrawable(port: number): boolean {
  return !handedOut.has(port) && !FETCH_BAD_PORTS.has(port);
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const listening = once(server, 'listening').then(() => true, () => false);
  server.listen(port, '127.0.0.1');
  if (!(await listening)) return false;
  server.close();
  await once(server, 'close');
  return true;
}

/** Listens on a free loopback port and resolves with it. */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Closes an HTTP stand-in, keep-alive connections included. */
export function closeHttpServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
