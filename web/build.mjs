// Builds web/dist from web/src: the files as they are (the browser runs ES modules natively),
// plus a content hash on the entry module and stylesheet so a static host may cache them long
// while index.html (no-cache) always points at the current ones.
import { createHash } from "node:crypto";
import { cpSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const hash = createHash("sha256");
for (const path of files(src).sort()) {
  hash.update(relative(src, path));
  hash.update(readFileSync(path));
}
const version = hash.digest("hex").slice(0, 12);

rmSync(dist, { recursive: true, force: true });
cpSync(src, dist, { recursive: true });
const index = join(dist, "index.html");
writeFileSync(index, readFileSync(index, "utf8").replaceAll("__BUILD__", version));
writeFileSync(join(dist, "build.json"), JSON.stringify({ version }, null, 2) + "\n");
console.log(`web/dist built (version ${version}, ${files(dist).length} files)`);
