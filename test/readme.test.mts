import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEMO_PORTS } from '../demo/ports.mts';
import { copyOfCheckout } from '../harness/checkout.mts';
import { ensureCollectorBuilt } from '../harness/collector.mts';
import { ROOT } from '../harness/service.mts';

interface Block {
  page: string;
  mark: string;
  code: string;
  line: number;
}

/** The pages a reader follows: the README first, then docs/ and the kit's own README. */
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`), 'src/telemetry/README.md', 'bench/README.md'];
const text = (page: string) => readFileSync(join(ROOT, page), 'utf8');
const README = text('README.md');
const SHELL = /^(sh|bash|shell|console)$/;
const FENCE = /^[ \t]*```(\S*)[ \t]*(\S*)[^\n]*\n([\s\S]*?)^[ \t]*```/gm;

function shellBlocks(page: string): Block[] {
  const markdown = text(page);
  const blocks: Block[] = [];
  for (const match of markdown.matchAll(FENCE)) {
    if (!SHELL.test(match[1]!)) continue;
    const indent = /^[ \t]*/.exec(match[0])![0];
    const code = match[3]!.split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
    blocks.push({ page, mark: match[2]!, code, line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/** A heading's anchor as GitHub makes it: lower case, punctuation gone, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The links of a page to files and headings of this repository (not to the web), with their line. */
function localLinks(page: string): Array<{ target: string; anchor: string | undefined; line: number }> {
  const markdown = text(page).replace(FENCE, (block) => block.replace(/[^\n]/g, ' ')); // links in code are not links
  const links = [];
  for (const match of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const [path, anchor] = match[1]!.split('#') as [string, string | undefined];
    if (/^[a-z]+:/i.test(path)) continue;
    const target = path === '' ? page : relative(ROOT, resolve(ROOT, dirname(page), path));
    links.push({ target, anchor, line: markdown.slice(0, match.index).split('\n').length });
  }
  return links;
}

function headingsOf(page: string): Set<string> {
  const markdown = text(page).replace(FENCE, '');
  return new Set([...markdown.matchAll(/^#+\s+(.*)$/gm)].map((match) => slug(match[1]!)));
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

describe('src/telemetry/README.md', () => {
  it('lists, to install, every package the kit imports, at the version package.json pins, and nothing else', () => {
    const install = shellBlocks('src/telemetry/README.md').find((block) => block.code.startsWith('npm install '));
    assert.ok(install, 'an `npm install` block');
    const listed = Object.fromEntries([...install.code.matchAll(/(@?[\w./-]+)@(\d[\w.-]*)/g)].map((m) => [m[1]!, m[2]!]));
    const kit = readdirSync(join(ROOT, 'src/telemetry')).filter((f) => f.endsWith('.ts')).map((f) => text(`src/telemetry/${f}`)).join('\n');
    const imported = new Set([...kit.matchAll(/from '([^'.][^']*)'/g)].map((m) => m[1]!).filter((name) => !name.startsWith('node:')));
    assert.deepEqual(Object.keys(listed).sort(), [...imported].sort());
    const { dependencies } = JSON.parse(text('package.json')) as { dependencies: Record<string, string> };
    for (const [name, version] of Object.entries(listed)) assert.equal(version, dependencies[name], name);
  });
});

describe('README.md and docs/', () => {
  const blocks = PAGES.flatMap(shellBlocks);

  it('marks every shell block: `sh runnable` (run below) or `sh manual` (needs a cluster or Sentry, or is what CI runs)', () => {
    assert.ok(blocks.length > 0);
    for (const block of blocks) assert.match(block.mark, /^(runnable|manual)$/, `${block.page} line ${block.line}: mark the block`);
  });

  it('keeps the settings of runnable blocks to their commands: nothing `export`ed stays in the reader\'s shell', () => {
    for (const block of blocks.filter((b) => b.mark === 'runnable')) assert.doesNotMatch(block.code, /^\s*export\s/m, `${block.page} line ${block.line}`);
  });

  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const { target, anchor, line } of localLinks(page)) {
        if (!existsSync(join(ROOT, target))) broken.push(`${page}:${line}: ${target} does not exist`);
        else if (anchor !== undefined && target.endsWith('.md') && !headingsOf(target).has(anchor)) broken.push(`${page}:${line}: ${target} has no heading #${anchor}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('keeps only the benchmark results a page cites, and cites none that is missing', () => {
    const cited = new Set(PAGES.flatMap((page) => localLinks(page).map((link) => link.target)).filter((target) => target.startsWith('bench/results/')));
    // What git keeps: profiles and heap snapshots are ignored (bench/.gitignore) and never cited.
    const kept = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'bench/results'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(kept.filter((file) => !cited.has(file)), [], 'results no page cites (delete them, or cite them)');
    assert.deepEqual([...cited].filter((file) => !existsSync(join(ROOT, file))), []);
  });

  describe('runs every `sh runnable` block, in order, in a fresh copy, as a user\'s shell would', () => {
    ensureCollectorBuilt();
    const copy = freshCopy();
    // The user's shell: their own node and npm, not this project's node_modules/.bin.
    const PATH = (process.env.PATH ?? '').split(':').filter((entry) => !entry.includes('node_modules')).join(':');
    after(() => rmSync(copy, { recursive: true, force: true }));

    for (const block of blocks.filter((b) => b.mark === 'runnable')) {
      it(`${block.page} line ${block.line}: ${block.code.split('\n')[0]}`, () => {
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
