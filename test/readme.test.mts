import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEMO_PORTS } from '../demo/ports.mts';
import { copyOfCheckout } from '../harness/checkout.mts';
import { ensureCollectorBuilt } from '../harness/collector.mts';
import { ROOT } from '../harness/service.mts';

interface Block {
  mark: string;
  code: string;
  line: number;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SHELL = /^(sh|bash|shell|console)$/;

function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```(\S*)[ \t]*(\S*)[^\n]*\n([\s\S]*?)^```/gm;
  for (const match of markdown.matchAll(fence)) {
    if (!SHELL.test(match[1]!)) continue;
    blocks.push({ mark: match[2]!, code: match[3]!, line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/** The files a fresh clone would have (tracked, and new files not ignored), copied to a temporary folder. */
function freshCopy(): string {
  const copy = copyOfCheckout('readme-');
  // Share the collector build (its stamp makes the copy's build.sh see it as up to date).
  mkdirSync(join(copy, '.cache'), { recursive: true });
  symlinkSync(join(ROOT, '.cache/collector'), join(copy, '.cache/collector'));
  // A repository of its own, so that what the blocks leave behind shows up as git would show it to the user.
  for (const args of [['init', '-q'], ['add', '-A']]) spawnSync('git', args, { cwd: copy });
  return copy;
}

/** Files the blocks created or changed that git does not ignore: what a user would find left in their clone. */
function strayFiles(copy: string): string[] {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: copy, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  return [...git('diff', '--name-only'), ...git('ls-files', '--others', '--exclude-standard')];
}

/** Processes still running in the copy, or from it. */
function processesFrom(copy: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(copy) || command.includes(copy)) found.push(`${pid} ${command}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('README', () => {
  const blocks = shellBlocks(README);

  it('marks every shell block: `sh runnable` (run below) or `sh manual` (needs a cluster or Sentry, or is what CI runs)', () => {
    assert.ok(blocks.length > 0);
    for (const block of blocks) assert.match(block.mark, /^(runnable|manual)$/, `README.md line ${block.line}: mark the block`);
  });

  it('keeps the settings of runnable blocks to their commands: nothing `export`ed stays in the reader\'s shell', () => {
    for (const block of blocks.filter((b) => b.mark === 'runnable')) assert.doesNotMatch(block.code, /^\s*export\s/m, `README.md line ${block.line}`);
  });

  describe('runs every `sh runnable` block, in order, in a fresh copy, as a user\'s shell would', () => {
    ensureCollectorBuilt();
    const copy = freshCopy();
    // The user's shell: their own node and npm, not this project's node_modules/.bin.
    const PATH = (process.env.PATH ?? '').split(':').filter((entry) => !entry.includes('node_modules')).join(':');
    after(() => rmSync(copy, { recursive: true, force: true }));

    for (const block of blocks.filter((b) => b.mark === 'runnable')) {
      it(`README.md line ${block.line}: ${block.code.split('\n')[0]}`, () => {
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
          cwd: copy,
          env: { PATH, HOME: process.env.HOME ?? '/root', CI: 'true' },
          encoding: 'utf8',
          timeout: 10 * 60_000,
        });
        const output = `--- stdout\n${run.stdout.slice(-4000)}\n--- stderr\n${run.stderr.slice(-4000)}`;
        assert.equal(run.status, 0, `exit ${run.status}\n${output}`);
        // The README says so before `npm ci`: on a Node older than 24, EBADENGINE is the one warning to expect.
        const warnings = `${run.stdout}${run.stderr}`.split('\n').filter((line) => /^npm warn/.test(line) && !/EBADENGINE/.test(line));
        assert.deepEqual(warnings, [], 'npm warned about something other than engines');
        for (const line of run.stdout.split('\n').filter((l) => l.startsWith('{'))) {
          assert.doesNotThrow(() => JSON.parse(line), `one JSON answer per line, not run together: ${line}`);
        }
      });
    }

    it('leaves no process running and no file that git does not ignore', () => {
      assert.deepEqual(processesFrom(copy), []);
      assert.deepEqual(strayFiles(copy), []);
    });
  });

  it('names the ports the interactive demo uses', () => {
    const paragraph = README.slice(README.indexOf('Drop `-- --once`'), README.indexOf('Drop `-- --once`') + 400);
    for (const [use, port] of Object.entries(DEMO_PORTS)) assert.match(paragraph, new RegExp(`\\*\\*${port}\\*\\*`), `${use}: ${port}`);
  });
});
