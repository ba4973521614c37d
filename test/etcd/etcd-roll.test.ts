/**
 * Issue 17: a rolling upgrade of 3 real-etcd controllers by the library's own roll keeps etcd
 * writable (no write waits longer than one election), each old controller killed as by a power loss
 * (the harder case); the negative control takes two down together.
 * See roll-scenario.ts.
 */
import { describeRoll } from "./roll-scenario.js";

describeRoll(3, { negativeControl: true, stop: "kill" });
