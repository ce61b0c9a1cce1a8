/**
 * Network segments: which part of the network an IP belongs to (name, zone, criticality), by longest-prefix
 * match over IPv4 and IPv6 networks. Segments come from the config (`segments:`), from a file (`file:`, CSV
 * with header cidr,name,zone,criticality[,description,tags] or YAML), or both. The reference provider: small,
 * local, and everything else is the layer's job.
 *
 *   - name: segments
 *     kind: netsegments
 *     file: netsegments.yaml
 *     segments:
 *       - { cidr: 10.20.0.0/16, name: servers, zone: internal, criticality: high }
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { CidrTable, parseCidr } from '../values.js';
import {
  DataFileError,
  asRecord,
  criticalityField,
  reloadingFile,
  textHash,
  resolveDataPath,
  splitList,
  stringField,
  yamlItems,
  type Criticality,
  type ReloadingFile,
} from '../localfile.js';
import { parseCsvTable } from '../csv.js';

const Criticality = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]);

const SegmentSchema = Type.Object(
  {
    cidr: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { description: 'One network or a list' }),
    name: Type.String({ minLength: 1 }),
    zone: Type.Optional(Type.String()),
    criticality: Type.Optional(Criticality),
    description: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('netsegments'),
    ...providerSettingsSchema,
    file: Type.Optional(Type.String({ description: 'CSV (cidr,name,zone,criticality,…) or YAML list of segments' })),
    segments: Type.Optional(Type.Array(SegmentSchema)),
  },
  { additionalProperties: false },
);

export interface Segment {
  name: string;
  cidr: string;
  zone: string | null;
  criticality: Criticality | null;
  description: string | null;
  tags: string[];
  /** Where it was declared, for answers that say why. */
  origin: string;
}

type Where = { file: string; line: number };

/** One declared segment (inline, YAML item or CSV row) → one Segment per network it lists. */
function toSegments(raw: Record<string, unknown>, where: Where): Segment[] {
  const name = stringField(raw, 'name', where);
  if (!name) throw new DataFileError(where.file, where.line, 'segment needs a "name"');
  const cidrs = Array.isArray(raw.cidr) ? raw.cidr.map(String) : splitList(stringField(raw, 'cidr', where));
  if (cidrs.length === 0) throw new DataFileError(where.file, where.line, `segment "${name}" needs a "cidr"`);
  const tags = Array.isArray(raw.tags) ? raw.tags.map(String) : splitList(stringField(raw, 'tags', where));
  return cidrs.map((c) => {
    const cidr = parseCidr(c);
    if (!cidr || !c.includes('/')) throw new DataFileError(where.file, where.line, `"${c}" is not a network in CIDR notation`);
    return {
      name,
      cidr: cidr.text,
      zone: stringField(raw, 'zone', where) ?? null,
      criticality: criticalityField(stringField(raw, 'criticality', where), where),
      description: stringField(raw, 'description', where) ?? null,
      tags,
      origin: `${where.file}:${where.line}`,
    };
  });
}

export function parseSegmentsFile(text: string, file: string): Segment[] {
  if (/\.csv$/i.test(file)) {
    const table = parseCsvTable(text, { file, comments: true, required: ['cidr', 'name'] });
    return table.rows.flatMap((r) => toSegments(r.values, { file, line: r.line }));
  }
  return yamlItems(text, file, 'segments').flatMap((it) => toSegments(asRecord(it.value, { file, line: it.line }), { file, line: it.line }));
}

function buildTable(segments: readonly Segment[]): CidrTable<Segment> {
  const t = new CidrTable<Segment>();
  for (const s of segments) t.add(parseCidr(s.cidr)!, s);
  return t;
}

const netsegments = defineProvider({
  kind: 'netsegments',
  local: true,
  description: 'Network segments: IP → segment name, zone and criticality (longest-prefix match, IPv4 and IPv6)',
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const inline = (cfg.segments ?? []).flatMap((s, i) =>
      toSegments(s as unknown as Record<string, unknown>, { file: `enrichment.providers[${cfg.name}].segments`, line: i + 1 }),
    );
    let file: ReloadingFile<CidrTable<Segment>> | null = null;
    if (cfg.file) {
      const path = resolveDataPath(cfg.file, deps.configDir);
      // The file's table includes the inline segments so one lookup probes one table.
      file = reloadingFile(path, (text, p) => buildTable([...inline, ...parseSegmentsFile(text, p)]), { now: deps.now });
    }
    const inlineTable = buildTable(inline);
    const inlineRevision = textHash(JSON.stringify(inline));
    return {
      name: cfg.name,
      kind: 'netsegments',
      subjects: ['ip'],
      local: true,
      inMemory: true,
      revision: async () => (file ? `${inlineRevision}.${await file.revision()}` : inlineRevision),
      async lookup(subject): Promise<ProviderAnswer> {
        const table = file ? await file.get() : inlineTable;
        const matches = table.matchAll(subject.value);
        const best = matches[0]?.values[0];
        if (!best) return { found: false, data: {} };
        return {
          found: true,
          data: {
            segment: best.name,
            cidr: best.cidr,
            zone: best.zone,
            criticality: best.criticality,
            description: best.description,
            tags: best.tags,
            // Enclosing networks, most specific first: "servers" inside "datacenter" inside "corp".
            within: matches.slice(1).map((m) => ({ segment: m.values[0]!.name, cidr: m.values[0]!.cidr })),
          },
        };
      },
    };
  },
});

export default netsegments;
