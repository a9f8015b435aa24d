/** How a view tells the user that an action failed: one alert line, with the API's field when it names one. */
import { ApiFailure } from '../api.ts';

export function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      <span aria-hidden="true">⚠ </span>
      {error}
    </p>
  ) : null;
}
export const message = (e: unknown) => (e instanceof ApiFailure ? `${e.message}${e.target ? ` (field: ${e.target})` : ''}` : e instanceof Error ? e.message : String(e));
