/**
 * Issue 17: the rolling upgrade of etcd-roll.test.ts on 5 real-etcd controllers (2+2+1 over three
 * zones): five steps, each one member out of five, each old controller shut down as EC2's terminate
 * does (a clean shutdown: etcd hands its leadership over). See roll-scenario.ts.
 */
import { describeRoll } from "./roll-scenario.js";

describeRoll(5, { negativeControl: false, stop: "shutdown" });
