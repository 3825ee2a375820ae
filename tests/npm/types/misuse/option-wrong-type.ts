// Fails with TS2322: a duration is a number of milliseconds, not a string.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({ url: "/api/heartbeat", intervalMs: "5 min" });
