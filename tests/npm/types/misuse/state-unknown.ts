// Fails with TS2367: there is no "idle" state (idleness is `presence`), so the comparison is
// always false.
import { SessionKeeper } from "session-keeper";

const keeper = new SessionKeeper({ url: "/api/heartbeat" });
if (keeper.state === "idle") keeper.stop();
