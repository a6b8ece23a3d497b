// Ports containerd 1.6 reference/docker (reference.go, normalize.go, regexp.go): parsing and normalizing
// image references as the CRI plugin does (ParseDockerRef), with the same error messages.
//
// reference := name [ ":" tag ] [ "@" digest ]
// name      := [domain '/'] path-component ['/' path-component]*
//
// containerd's errors here are plain (no errdefs kind), so its CRI answers a bad reference with gRPC
// Unknown: `failed to parse image reference "Busybox": invalid reference format: repository name must be
// lowercase`. berth raises them with kind Unknown for the same status.
import { BerthError } from "../errdefs.js";
import { validateDigest } from "./digest.js";

export const NameTotalLengthMax = 255;

const legacyDefaultDomain = "index.docker.io";
/** The default registry's name; only a name here, its endpoint comes from hosts.ts. */
export const defaultDomain = "docker.io";
const officialRepoName = "library";
const defaultTag = "latest";

// The patterns match the same strings as upstream's, written so that a backtracking engine stays
// polynomial (Go's RE2 never backtracks): a separator that may be empty adds nothing to the language, so
// path components are alphanumeric runs joined by ".", "_", "__" or dashes.
const nameComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const domainComponent = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const domain = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const tag = "\\w[\\w.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const pathPat = `${nameComponent}(?:/${nameComponent})*`;
const namePat = `(?:${domain}/)?${pathPat}`;

const referenceRegexp = new RegExp(`^(${namePat})(?::(${tag}))?(?:@(${digestPat}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domain})/)?(${pathPat})$`);
const anchoredTagRegexp = new RegExp(`^${tag}$`);
const anchoredDigestRegexp = new RegExp(`^${digestPat}$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

const refError = (message: string) => new BerthError("Unknown", message);
export const ErrReferenceInvalidFormat = "invalid reference format";
export const ErrTagInvalidFormat = "invalid tag format";
export const ErrDigestInvalidFormat = "invalid digest format";
export const ErrNameContainsUppercase = "repository name must be lowercase";
export const ErrNameEmpty = "repository name must have at least one component";
export const ErrNameTooLong = `repository name must not be more than ${NameTotalLengthMax} characters`;

/**
 * Any reference: a name (domain and path) with an optional tag and digest, or a digest alone (empty
 * name). Go's several reference types are this one class; `tag`/`digest` say which it is.
 */
export class Reference {
  constructor(
    /** Registry host, "" when the name has none (only before normalization). */
    readonly domain: string,
    /** Repository path within the registry, e.g. "library/busybox". */
    readonly path: string,
    readonly tag?: string,
    readonly digest?: string,
  ) {}

  /** domain/path (the repository), "" for a digest-only reference. */
  get name(): string {
    return this.domain === "" ? this.path : `${this.domain}/${this.path}`;
  }

  toString(): string {
    if (this.name === "") return this.digest ?? "";
    return `${this.name}${this.tag !== undefined ? `:${this.tag}` : ""}${this.digest !== undefined ? `@${this.digest}` : ""}`;
  }

  /** The form the Docker UI shows: no "docker.io/", and no "library/" for official images. */
  familiar(): Reference {
    let { domain, path } = this;
    if (domain === defaultDomain) {
      domain = "";
      const parts = path.split("/");
      if (parts.length === 2 && parts[0] === officialRepoName) path = parts[1] as string;
    }
    return new Reference(domain, path, this.tag, this.digest);
  }
}

/** Parse: a syntactically valid reference, without normalization (no short digests). */
export function parse(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (m === null) {
    if (s === "") throw refError(ErrNameEmpty);
    if (referenceRegexp.test(s.toLowerCase())) throw refError(ErrNameContainsUppercase);
    throw refError(ErrReferenceInvalidFormat);
  }
  const [, name = "", tagPart, digestPart] = m;
  if (name.length > NameTotalLengthMax) throw refError(ErrNameTooLong);
  const nm = anchoredNameRegexp.exec(name);
  const [domainPart, pathPart] = nm ? [nm[1] ?? "", nm[2] ?? ""] : ["", name];
  if (digestPart !== undefined) validateDigest(digestPart);
  return new Reference(domainPart, pathPart, tagPart, digestPart);
}

/** splitDockerDomain: the registry host of a familiar name, docker.io by default. */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf("/");
  const first = i === -1 ? "" : name.slice(0, i);
  const hasDomain =
    i !== -1 && (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first);
  let [domainPart, remainder] = hasDomain ? [first, name.slice(i + 1)] : [defaultDomain, name];
  if (domainPart === legacyDefaultDomain) domainPart = defaultDomain;
  if (domainPart === defaultDomain && !remainder.includes("/"))
    remainder = `${officialRepoName}/${remainder}`;
  return [domainPart, remainder];
}

/** ParseNormalizedNamed: a familiar name ("busybox") as a fully qualified one ("docker.io/library/busybox"). */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw refError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domainPart, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(":");
  const remoteName = colon > -1 ? remainder.slice(0, colon) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw refError(`${ErrReferenceInvalidFormat}: ${ErrNameContainsUppercase}`);
  }
  const ref = parse(`${domainPart}/${remainder}`);
  if (ref.name === "") throw refError(`reference ${ref} has no name`);
  return ref;
}

/**
 * ParseDockerRef: normalizes as the CRI plugin does before a pull. The result is tagged or digested,
 * never both ("busybox:1@sha256:…" keeps only the digest), and a bare name gets ":latest".
 */
export function parseDockerRef(s: string): Reference {
  const named = parseNormalizedNamed(s);
  if (named.tag !== undefined && named.digest !== undefined) {
    return new Reference(named.domain, named.path, undefined, named.digest);
  }
  return tagNameOnly(named);
}

/** ParseAnyReference: a full or 64-hex identifier as a digest reference, otherwise a familiar name. */
export function parseAnyReference(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) return new Reference("", "", undefined, `sha256:${s}`);
  try {
    validateDigest(s);
    return new Reference("", "", undefined, s);
  } catch {
    return parseNormalizedNamed(s);
  }
}

/** TagNameOnly: adds ":latest" to a name with neither tag nor digest. */
export function tagNameOnly(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? withTag(ref, defaultTag) : ref;
}

/** WithName: a repository name without tag or digest. */
export function withName(name: string): Reference {
  if (name.length > NameTotalLengthMax) throw refError(ErrNameTooLong);
  const m = anchoredNameRegexp.exec(name);
  if (m === null) throw refError(ErrReferenceInvalidFormat);
  return new Reference(m[1] ?? "", m[2] ?? "");
}

/** WithTag: the name of `ref` with `tag`, keeping its digest. */
export function withTag(ref: Reference, t: string): Reference {
  if (!anchoredTagRegexp.test(t)) throw refError(ErrTagInvalidFormat);
  return new Reference(ref.domain, ref.path, t, ref.digest);
}

/** WithDigest: the name of `ref` with `digest`, keeping its tag (CRI's repo digests are built so). */
export function withDigest(ref: Reference, d: string): Reference {
  if (!anchoredDigestRegexp.test(d)) throw refError(ErrDigestInvalidFormat);
  return new Reference(ref.domain, ref.path, ref.tag, d);
}

/** FamiliarName: the familiar repository name, e.g. "busybox" for docker.io/library/busybox. */
export function familiarName(ref: Reference): string {
  return ref.familiar().name;
}

/** FamiliarString: the familiar form of the whole reference, e.g. "busybox:latest". */
export function familiarString(ref: Reference): string {
  return ref.familiar().toString();
}
