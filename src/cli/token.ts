/**
 * `sneakernet token create|list|revoke`: through a running server's /admin/tokens when given --endpoint (or
 * SNEAKERNET_ENDPOINT), else directly on the store. The embedded database admits one process: when a server
 * holds the data folder, the command says so in one line (exit 6) and suggests --endpoint/--token.
 */
import type { Command } from 'commander';
import { openApp } from '../app.ts';
import { TOKEN_ROLES, TokenRole, type TokenInfo } from '../store/tokens.ts';
import { ApiClient } from './api-client.ts';
import { CliExit, ExitCode } from './output.ts';
import { configFromFlags } from './serve.ts';
import { table } from './table.ts';

interface TokenFlags {
  endpoint?: string;
  token?: string;
  ca?: string;
  dataDir?: string;
  json?: boolean;
}

const viaServer = (f: TokenFlags) => !!(f.endpoint ?? process.env.SNEAKERNET_ENDPOINT);

async function onStore<T>(f: TokenFlags, fn: (tokens: Awaited<ReturnType<typeof openApp>>['tokens']) => Promise<T>): Promise<T> {
  const app = await openApp(configFromFlags({ dataDir: f.dataDir }));
  try {
    return await fn(app.tokens);
  } finally {
    await app.close();
  }
}

function withFlags(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'a running server (env SNEAKERNET_ENDPOINT); without it the data folder / DATABASE_URL is used directly')
    .option('--token <token>', 'admin token for --endpoint (env SNEAKERNET_TOKEN)')
    .option('--ca <file>', 'extra CA certificate to trust (env SNEAKERNET_CA)')
    .option('--data-dir <dir>', 'data folder of the embedded database (env SNEAKERNET_DATA_DIR)')
    .option('--json', 'print JSON');
}

const show = (t: Pick<TokenInfo, 'id' | 'subscriptionId' | 'role' | 'label'> & { createdAt?: Date | string; revokedAt?: Date | string | null }) => [
  t.id, t.subscriptionId ?? '*', t.role, t.label ?? '', t.createdAt ? new Date(t.createdAt).toISOString() : '', t.revokedAt ? 'revoked' : 'active',
];

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('bearer tokens: create, list, revoke');

  withFlags(token.command('create').description('create a token; prints it as the last line (it is shown only once)'))
    .option('--subscription <id>', 'subscription the token may act in (not for admin)')
    .requiredOption('--role <role>', `one of ${TOKEN_ROLES.join(', ')}`)
    .option('--label <text>', 'a note to recognise the token by')
    .action(async (f: TokenFlags & { subscription?: string; role: string; label?: string }) => {
      if (!(TOKEN_ROLES as readonly string[]).includes(f.role)) throw new CliExit(ExitCode.Usage, `--role must be one of ${TOKEN_ROLES.join(', ')}.`);
      if (f.role !== TokenRole.Admin && !f.subscription) throw new CliExit(ExitCode.Usage, `--subscription is required for the ${f.role} role.`);
      if (f.subscription && !/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(f.subscription)) throw new CliExit(ExitCode.Usage, '--subscription must be letters, digits and -.');
      let created: { token: string; id: string; subscriptionId: string | null; role: string };
      if (viaServer(f)) {
        const r = await new ApiClient(f).request('POST', '/admin/tokens', { body: { subscriptionId: f.subscription, role: f.role, label: f.label } });
        created = r.body;
      } else {
        created = await onStore(f, async (tokens) => {
          const { token: t, info } = await tokens.create(f.role === TokenRole.Admin ? null : f.subscription!, f.role as TokenRole, f.label ?? null);
          return { token: t, id: info.id, subscriptionId: info.subscriptionId, role: info.role };
        });
      }
      if (f.json) process.stdout.write(JSON.stringify(created) + '\n');
      else process.stdout.write(`id: ${created.id}\nrole: ${created.role}\nsubscription: ${created.subscriptionId ?? '*'}\n${created.token}\n`);
    });

  withFlags(token.command('list').description('list tokens (never their secrets)'))
    .action(async (f: TokenFlags) => {
      const list: TokenInfo[] = viaServer(f)
        ? (await new ApiClient(f).request<{ value: TokenInfo[] }>('GET', '/admin/tokens')).body.value
        : await onStore(f, (tokens) => tokens.list());
      if (f.json) process.stdout.write(JSON.stringify({ value: list }, null, 2) + '\n');
      else process.stdout.write(table(['ID', 'SUBSCRIPTION', 'ROLE', 'LABEL', 'CREATED', 'STATUS'], list.map(show)));
    });

  withFlags(token.command('revoke <id>').description('revoke a token'))
    .action(async (id: string, f: TokenFlags) => {
      if (viaServer(f)) await new ApiClient(f).request('DELETE', `/admin/tokens/${encodeURIComponent(id)}`);
      else if (!(await onStore(f, (tokens) => tokens.revoke(id)))) throw new CliExit(ExitCode.NotFound, `no active token with id ${id}.`);
      process.stdout.write(f.json ? JSON.stringify({ revoked: id }) + '\n' : `revoked ${id}\n`);
    });
}
