/**
 * Writes the S2S emulator's throw-away credentials (cert.pem, key.pem, ca.pem) into a
 * directory that others may be able to write to. Each file is created new: never through a
 * symbolic link (a planted `key.pem` link would otherwise hand the private key to its target),
 * never into an existing file (which would keep its old, perhaps world-readable, mode), and the
 * key readable by its owner only. An error names the file, never its content.
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { MpaUsageError } from './errors.js';

// O_EXCL with O_CREAT already refuses a path that is a symbolic link (dangling or not);
// O_NOFOLLOW says so once more where the platform has it.
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/** Mode of the private key: its owner only. */
export const KEY_MODE = 0o600;
/** Mode of the certificates, which are public. */
export const CERT_MODE = 0o644;

/** The files written, and how to remove them again. */
export interface CredentialFiles {
  /** Full paths, in the order written (ca.pem last: once it is there, all are). */
  readonly paths: readonly string[];
  /** Removes the files written (the names in the directory; a link put there since is removed, not followed). Never throws. */
  remove(): void;
}

/**
 * Creates `file` with `content` and `mode`; throws as `openSync` does (EEXIST for an existing
 * file or link). A file it created but could not fill is removed again.
 */
export function writeNewFile(file: string, content: string, mode: number): void {
  const fd = openSync(file, CREATE_NEW, mode);
  try {
    const bytes = Buffer.from(content, 'utf8');
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
  } catch (error) {
    closeSync(fd);
    removeQuietly(file);
    throw error;
  }
  closeSync(fd);
}

/**
 * Writes cert.pem, key.pem (mode 0600) and ca.pem into `dir`, each as a new file. On any
 * failure the files already written are removed and an {@link MpaUsageError} names the file
 * and the reason (`... already exists` for a file or link in the way, else the system's code).
 */
export function writeCredentialFiles(dir: string, credentials: { cert: string; key: string; ca: string }): CredentialFiles {
  const written: string[] = [];
  const remove = () => {
    for (const file of written) removeQuietly(file);
  };
  const files: [string, string, number][] = [
    ['cert.pem', credentials.cert, CERT_MODE],
    ['key.pem', credentials.key, KEY_MODE],
    ['ca.pem', credentials.ca, CERT_MODE],
  ];
  for (const [name, content, mode] of files) {
    const file = path.join(dir, name);
    try {
      writeNewFile(file, content, mode);
    } catch (error) {
      remove();
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new MpaUsageError(
        code === 'EEXIST' || code === 'ELOOP'
          ? `${file} already exists (a file or a symbolic link): the credentials are only written to new files; remove it or use another directory`
          : `cannot write ${file} (${code})`,
      );
    }
    written.push(file);
  }
  return { paths: written, remove };
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone, or the directory went away: nothing left to remove.
  }
}
