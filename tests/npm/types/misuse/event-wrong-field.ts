// Fails with TS2339: a failure event has `code` and `message`, not `error`.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({
  url: "/api/heartbeat",
  onError: (event) => console.warn(event.error),
});
