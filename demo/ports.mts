/*
 * Is a TCP port free, and if not, which process holds it? Asked before the
 * demo starts anything, so that a busy port is named with its holder instead
 * of failing half-way (or, worse, answering from a leftover process).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** The interactive demo's ports (the README names them); `--once` picks free ones. */
export const DEMO_PORTS = { collector: 4317, gateway: 8080, users: 8081 };

export interface PortHolder {
  pid: number;
  command: string;
}

/**
 * Who listens on `port`, on any address: undefined when nobody does, else
 * the processes this user can see (maybe none). Any address counts: with
 * 127.0.0.1:8080 taken, the service would still listen on [::]:8080, and
 * requests to 127.0.0.1 would reach the other process.
 */
export async function whoListensOn(port: number): Promise<PortHolder[] | undefined> {
  if (existsSync('/proc/net/tcp')) {
    const inodes = listeningInodes(port);
    return inodes.size > 0 ? holdersOf(inodes) : undefined;
  }
  const free = (await canListen(port, '127.0.0.1')) && (await canListen(port, '::'));
  return free ? undefined : fromLsof(port);
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRINUSE'));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** One line for a busy port: what holds it and how to free it. */
export function describeBusyPort(port: number, use: string, holders: PortHolder[]): string {
  if (holders.length === 0) {
    return `port ${port} (${use}) is in use by a process this user cannot see (try: sudo ss -ltnp 'sport = :${port}')`;
  }
  const shorten = (command: string) => (command.length > 100 ? `${command.slice(0, 99)}…` : command);
  const list = holders.map((h) => `pid ${h.pid} (${shorten(h.command)})`).join(', ');
  return `port ${port} (${use}) is in use by ${list}: stop it (kill ${holders.map((h) => h.pid).join(' ')}) or free the port`;
}

const TCP_LISTEN = '0A';

/** The inodes of the sockets listening on `port`, from /proc/net/tcp and tcp6 (Linux). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [localAddress, state, inode] = [fields[1], fields[3], fields[9]];
      if (state === TCP_LISTEN && localAddress && parseInt(localAddress.split(':').at(-1)!, 16) === port) inodes.add(inode!);
    }
  }
  return inodes;
}

/** The processes holding those sockets: /proc/<pid>/fd links name the socket inodes each one holds. */
function holdersOf(inodes: Set<string>): PortHolder[] {
  const holders: PortHolder[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's process
    }
    const holds = fds.some((fd) => {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return match !== null && inodes.has(match[1]!);
      } catch {
        return false;
      }
    });
    if (holds) holders.push({ pid: Number(pid), command: commandOf(Number(pid)) });
  }
  return holders;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || '?';
  } catch {
    return '?';
  }
}

function fromLsof(port: number): PortHolder[] {
  const lsof = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8' });
  const holders: PortHolder[] = [];
  for (const line of (lsof.stdout ?? '').split('\n')) {
    if (line.startsWith('p')) holders.push({ pid: Number(line.slice(1)), command: '?' });
    else if (line.startsWith('c') && holders.length > 0) holders.at(-1)!.command = line.slice(1);
  }
  return holders;
}
