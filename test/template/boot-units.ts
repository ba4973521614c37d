/** Units files of many ordinary units (about 330 bytes each), as a user might write them. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function ordinaryUnit(i: number): {
  name: string;
  command: string;
  enable: boolean;
  content_text: string;
} {
  const name = `app-${String(i).padStart(3, "0")}`;
  return {
    name: `${name}.service`,
    command: "start",
    enable: true,
    content_text: [
      "[Unit]",
      `Description=Application ${i}: worker pool ${i % 7} for queue q${i * 37}`,
      "Requires=docker.service",
      "After=docker.service",
      "",
      "[Service]",
      "TimeoutStartSec=0",
      `ExecStartPre=-/usr/bin/docker rm -f ${name}`,
      `ExecStart=/usr/bin/docker run --rm --name ${name} -p ${8000 + i}:8080 -e QUEUE=q${i * 37} registry.example.com/team/${name}:1.${i}.0`,
      `ExecStop=/usr/bin/docker stop ${name}`,
      "Restart=always",
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
  };
}

/** A units file of `count` ordinary units in a folder of its own; returns its path. */
export function ordinaryUnitsFile(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-units-"));
  const path = join(dir, `units-${count}.cson`);
  writeFileSync(
    path,
    JSON.stringify(
      Array.from({ length: count }, (_, i) => ordinaryUnit(i + 1)),
      null,
      2,
    ),
  );
  return path;
}

/** `count` SSH public keys of realistic length. */
export function manyKeys(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${Buffer.from(`key-${i}`.padEnd(32, "x")).toString("base64")} user${i}@host`,
  );
}
