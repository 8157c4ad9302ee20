/**
 * Runs async tasks one after another. The client's key exchanges go through one: every
 * path of a client shares its static key, and the server refuses an initiation whose
 * timestamp is not newer than the last one it accepted for that key, so two paths racing
 * their initiations over separate TCP connections could see the later stamp arrive first
 * and the earlier one refused as a replay.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
