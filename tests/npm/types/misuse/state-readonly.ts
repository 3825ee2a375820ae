// Fails with TS2540: the state is read-only; `stop()` changes it.
import { SessionKeeper } from "session-keeper";

const keeper = new SessionKeeper({ url: "/api/heartbeat" });
keeper.state = "stopped";
