// Fails with TS2353: an option the package does not have.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({ url: "/api/heartbeat", retries: 3 });
