// Fails with TS2561: a misspelt option (`intervalMS`) is an error that suggests `intervalMs`.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({ url: "/api/heartbeat", intervalMS: 60_000 });
