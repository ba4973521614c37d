/**
 * Issue 17: a rolling upgrade of 3 real-etcd controllers by the library's own roll keeps etcd
 * writable (no write waits longer than one election); the negative control takes two down together.
 *
 * Each old controller is shut down as EC2's terminate does (systemd's SIGTERM: etcd hands its
 * leadership over), which is what the roll's TerminateInstanceInAutoScalingGroup causes.
 * PANDACLUSTER_ROLL_STOP=kill makes it a power loss instead (SIGKILL, no hand-over: the others
 * must notice and elect), a harder case than the roll causes, run by hand for its figure: its
 * longest gap is one election whose length raft randomizes, and once in a CI run beside another it
 * reached 2.8 s against the 2.66 s bound (a second election round, or etcd's ticks late on the
 * loaded machine: not told apart), so it is not CI's assertion.
 * See roll-scenario.ts.
 */
import { describeRoll } from "./roll-scenario.js";

describeRoll(3, {
  negativeControl: true,
  stop: process.env.PANDACLUSTER_ROLL_STOP === "kill" ? "kill" : "shutdown",
});
