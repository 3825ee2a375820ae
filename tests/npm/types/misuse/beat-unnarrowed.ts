// Fails with TS2339: `beat()` may resolve with a failure, which has no `latencyMs`; check `ok`
// first.
import { SessionKeeper } from "session-keeper";

const keeper = new SessionKeeper({ url: "/api/heartbeat" });
const result = await keeper.beat();
console.log(result.latencyMs);
