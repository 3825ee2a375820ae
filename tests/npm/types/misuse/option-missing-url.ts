// Fails with TS2741: `url` is required.
import { SessionKeeper } from "session-keeper";

new SessionKeeper({ sessionId: "abc" });
