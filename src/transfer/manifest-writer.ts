// Streaming DriveManifest writer: each blob is written as it is added, so a
// drive with millions of files never needs its manifest in memory.
import type { Writable } from 'node:stream';
import {
  MANIFEST_VERSION, type ManifestBlob, type ManifestBlobList, type ManifestChunk, type ManifestFileRef, type ManifestHeader,
} from './manifest-types.ts';
import { attrs, element, XmlOutput } from './xml-writer.ts';

function fileRef(name: string, ref: ManifestFileRef | undefined, indent: string): string {
  return ref ? `${indent}${element(name, ref.path, { Hash: ref.hash })}\n` : '';
}

function chunkList(list: string, item: string, chunks: ManifestChunk[], indent: string): string {
  if (chunks.length === 0) return `${indent}<${list} />\n`;
  let s = `${indent}<${list}>\n`;
  for (const c of chunks) s += `${indent}  <${item}${attrs({ Offset: c.offset, Length: c.length, Id: c.id, Hash: c.hash })} />\n`;
  return s + `${indent}</${list}>\n`;
}

export function formatManifestBlob(blob: ManifestBlob, indent = '      '): string {
  const i2 = indent + '  ';
  let s = `${indent}<Blob>\n`;
  s += `${i2}${element('BlobPath', blob.blobPath)}\n`;
  s += `${i2}${element('FilePath', blob.filePath)}\n`;
  if (blob.clientData !== undefined) s += `${i2}${element('ClientData', blob.clientData)}\n`;
  if (blob.snapshot !== undefined) s += `${i2}${element('Snapshot', blob.snapshot)}\n`;
  s += `${i2}${element('Length', blob.length)}\n`;
  if (blob.importDisposition !== undefined) s += `${i2}${element('ImportDisposition', blob.importDisposition)}\n`;
  if (blob.pageRanges) s += chunkList('PageRangeList', 'PageRange', blob.pageRanges, i2);
  else if (blob.blocks) s += chunkList('BlockList', 'Block', blob.blocks, i2);
  s += fileRef('MetadataPath', blob.metadataPath, i2);
  s += fileRef('PropertiesPath', blob.propertiesPath, i2);
  return s + `${indent}</Blob>\n`;
}

export class ManifestWriter {
  private inList = false;
  private blobs = 0;

  private constructor(private readonly out: XmlOutput) {}

  /** Opens the manifest and writes its header. A path target is written to "<path>.partial" and renamed on close. */
  static async open(target: string | Writable, header: Omit<ManifestHeader, 'version'> & { version?: string }): Promise<ManifestWriter> {
    const w = new ManifestWriter(new XmlOutput(target));
    let s = '<?xml version="1.0" encoding="UTF-8"?>\n';
    s += `<DriveManifest${attrs({ Version: header.version ?? MANIFEST_VERSION })}>\n  <Drive>\n`;
    s += `    ${element('DriveId', header.driveId)}\n`;
    if (header.storageAccountKey !== undefined) s += `    ${element('StorageAccountKey', header.storageAccountKey)}\n`;
    if (header.containerSas !== undefined) s += `    ${element('ContainerSas', header.containerSas)}\n`;
    if (header.clientCreator !== undefined) s += `    ${element('ClientCreator', header.clientCreator)}\n`;
    await w.out.write(s);
    return w;
  }

  /** Starts a BlobList whose blobs share the given metadata/properties defaults. */
  async startBlobList(list: ManifestBlobList = {}): Promise<void> {
    let s = this.inList ? '    </BlobList>\n' : '';
    s += `    <BlobList${attrs({ Id: list.id })}>\n`;
    s += fileRef('MetadataPath', list.metadataPath, '      ');
    s += fileRef('PropertiesPath', list.propertiesPath, '      ');
    this.inList = true;
    await this.out.write(s);
  }

  async writeBlob(blob: ManifestBlob): Promise<void> {
    if (!this.inList) await this.startBlobList();
    this.blobs++;
    await this.out.write(formatManifestBlob(blob));
  }

  get blobCount(): number {
    return this.blobs;
  }

  async close(): Promise<void> {
    await this.out.write(`${this.inList ? '    </BlobList>\n' : ''}  </Drive>\n</DriveManifest>\n`);
    await this.out.close();
  }

  async abort(): Promise<void> {
    await this.out.abort();
  }
}
