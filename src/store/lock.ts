/**
 * PGlite admits one process per data folder. A lock file with our pid tells a second process, in one clear line,
 * that the folder is busy, instead of letting it corrupt the database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DomainError } from '../domain/errors.ts';

export interface DataDirLock {
  release(): void;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export function acquireDataDirLock(dir: string): DataDirLock {
  const file = path.join(dir, 'sneakernet.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return { release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DomainError('DataDirCorrupt', `Cannot use data folder ${dir}: ${(e as Error).message}`);
      }
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new DomainError(
          'DataDirLocked',
          `The data folder ${dir} is in use by process ${pid} (an embedded database admits one process). Stop it, or use --endpoint/--token to talk to the running server.`,
        );
      }
      fs.rmSync(file, { force: true }); // stale lock of a dead process
    }
  }
  throw new DomainError('DataDirLocked', `The data folder ${dir} is in use.`);
}
