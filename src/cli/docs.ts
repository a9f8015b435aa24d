/** `sneakernet docs lifecycle`: regenerates docs/lifecycle.md from the transition tables. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { lifecycleMarkdown } from '../domain/mermaid.ts';

export function registerDocsCommands(program: Command): void {
  program
    .command('docs')
    .description('generate documentation from the code')
    .command('lifecycle')
    .description('write docs/lifecycle.md (Mermaid diagrams of the job and drive transition tables)')
    .option('--out <file>', 'where to write', 'docs/lifecycle.md')
    .action((opts: { out: string }) => {
      fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      fs.writeFileSync(opts.out, lifecycleMarkdown());
      process.stdout.write(`wrote ${opts.out}\n`);
    });
}
