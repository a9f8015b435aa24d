/** Hash routes (`#/jobs/rg/name`): the server serves one page at `/`, and nothing secret ever goes in the URL. */
import { useEffect, useState } from 'react';

export type Route =
  | { view: 'jobs' }
  | { view: 'new' }
  | { view: 'job'; resourceGroup: string; name: string }
  | { view: 'receive' }
  | { view: 'tasks' }
  | { view: 'transfers' }
  | { view: 'destruction' }
  | { view: 'certificate'; driveId: string }
  | { view: 'webhooks' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'new':
      return { view: 'new' };
    case 'jobs':
      if (parts.length >= 3) return { view: 'job', resourceGroup: parts[1], name: parts[2] };
      return { view: 'jobs' };
    case 'operator':
      if (parts[1] === 'receive') return { view: 'receive' };
      if (parts[1] === 'tasks') return { view: 'tasks' };
      if (parts[1] === 'transfers') return { view: 'transfers' };
      if (parts[1] === 'destruction') return { view: 'destruction' };
      if (parts[1] === 'certificate' && parts[2]) return { view: 'certificate', driveId: parts[2] };
      return { view: 'tasks' };
    case 'webhooks':
      return { view: 'webhooks' };
    default:
      return { view: 'jobs' };
  }
}

export const href = {
  jobs: () => '#/jobs',
  newJob: () => '#/new',
  job: (rg: string, name: string) => `#/jobs/${encodeURIComponent(rg)}/${encodeURIComponent(name)}`,
  receive: () => '#/operator/receive',
  tasks: () => '#/operator/tasks',
  transfers: () => '#/operator/transfers',
  destruction: () => '#/operator/destruction',
  certificate: (driveId: string) => `#/operator/certificate/${encodeURIComponent(driveId)}`,
  webhooks: () => '#/webhooks',
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
