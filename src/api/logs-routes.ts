/**
 * `GET …/jobs/{jobName}/drives/{driveId}/logs/{error|verbose}`: a drive's copy log (DriveLog XML), streamed from
 * the job's diagnostics container through the service, for customers whose storage account is behind a firewall.
 * Same visibility rules as Get Job (another subscription's job is a 404). Not part of Azure.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { StorageAccounts } from '../storage-accounts/registry.ts';
import { getCheckpoint } from '../transfer/worker/leases.ts';
import { jobKey } from './arm/common.ts';
import { JOB_PATH } from './arm/jobs-routes.ts';
import { notFound } from './errors.ts';

export function registerLogRoutes(app: FastifyInstance, ctx: App): void {
  const accounts = new StorageAccounts(ctx.store);
  app.get(`${JOB_PATH}/drives/:driveId/logs/:kind`, async (req, reply) => {
    const { key } = jobKey(req);
    const { driveId, kind } = req.params as { driveId: string; kind: string };
    if (kind !== 'error' && kind !== 'verbose') throw notFound(`The log '${kind}'`);
    const job = await ctx.store.getJob(key);
    if (!job) throw notFound(`The job '${key.name}' in resource group '${key.resourceGroup}'`);
    const drive = (await ctx.store.getDrives(job.id)).find((d) => d.driveId.toLowerCase() === driveId.toLowerCase());
    if (!drive) throw notFound(`Drive '${driveId}' of job '${job.name}'`);
    const where = await getCheckpoint<{ container: string; name: string }>(ctx.store.db, { jobId: job.id, driveId: drive.driveId }, `log:${kind}`);
    if (!where) throw notFound(`The ${kind} log of drive '${drive.driveId}' (logs exist once the drive's copy has finished; verbose logs only with logLevel Verbose)`);
    const backend = await accounts.backendFor(job.storageAccountId);
    const stream = await backend.getStream(where.detail.container, where.detail.name);
    const file = where.detail.name.split('/').pop()!;
    return reply
      .header('content-type', 'application/xml; charset=utf-8')
      .header('content-disposition', `attachment; filename="${file.replace(/["\\\r\n]/g, '_')}"`)
      .send(stream);
  });
}
