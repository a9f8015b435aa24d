/**
 * A transfer-worker-only child process for the kill test: the same TransferWorker that `sneakernet worker` starts,
 * without the timer/notification background (so the test kills exactly the data plane).
 */
import { openApp } from '../../src/app.ts';
import { configFromEnv } from '../../src/config.ts';
import { startTransferWorkers } from '../../src/transfer/worker/runner.ts';

const app = await openApp(configFromEnv());
const stop = await startTransferWorkers(app);
process.stdout.write('sneakernet worker running\n');
process.once('SIGTERM', () => void stop().then(() => app.close()).then(() => process.exit(0)));
