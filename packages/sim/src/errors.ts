/**
 * The simulator's one error type. `code` is stable (tests match on it); the message says
 * what happened and, for run-time failures, the seed that reproduces it.
 */
export type SimErrorCode =
  | 'BAD_OPTION' // a link, mesh or run option is out of range
  | 'BAD_ROUTE' // a path or route is wired wrongly (empty route, pathId registered twice, …)
  | 'NO_ROUTE' // an endpoint transmitted on a pathId no path was registered for
  | 'BAD_TIMEOUT' // an endpoint's pollTimeout() returned something that is not a time
  | 'LIVELOCK' // endpoints keep acting without virtual time advancing
  | 'STEP_LIMIT'; // run() hit its bound before stopWhen held (only with throwOnLimit)

export class SimError extends Error {
  override readonly name = 'SimError';
  constructor(
    readonly code: SimErrorCode,
    message: string,
  ) {
    super(message);
  }
}
