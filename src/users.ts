import { middleWork } from './somework';
import { withSpan } from './telemetry';

export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The seed's special user: looking it up runs the somework path. */
export const SLOW_USER_ID = '123';
const SLOW_USER_DELAY_MS = 50;

export interface User {
  id: string;
  name: string;
}

export function getUser(id: string, signal?: AbortSignal): Promise<User> {
  return withSpan('getUser', { 'user.id': id }, async () => {
    if (id === SLOW_USER_ID) await middleWork(SLOW_USER_DELAY_MS, signal);
    return { id, name: `User ${id}` };
  });
}
