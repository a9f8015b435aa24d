// Per-test temp folders, removed in afterEach/afterAll by the caller.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `sn-${prefix}-`));
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
