import { randomUUID } from 'node:crypto';
import type express from 'express';
import { z } from 'zod';
import type { Paginate } from './configurations.js';
import { asyncRoute, HttpError, notFound, parseOr422 } from './http-errors.js';
import { type CloudStore, type Directory, type DirectoryFile, PROJECT_ID, type StoredFile } from './store.js';

/**
 * Directories (`/api/v1/beta/directories`), the sources of batches: create (user, or ephemeral
 * with an expiry after which the directory is gone), list, get, update, delete; and their files:
 * add an uploaded file, upload one (multipart field `upload_file`), list, get, update, delete.
 * Deletes are soft, as the SDK's `include_deleted` and `deleted_at` describe.
 */

export interface DirectoryDeps {
  store: CloudStore;
  paginate: Paginate;
  /** Reads a multipart body: its file part (by field name) and other fields. */
  readUpload(
    req: express.Request,
    field: string,
  ): Promise<{ file?: { name: string; bytes: Buffer }; fields: Record<string, string> }>;
  storeFile(upload: { name: string; bytes: Buffer }, externalFileId: string | null): Promise<StoredFile>;
}

const live = (directory: Directory | undefined, now = Date.now()) =>
  directory && !directory.deleted_at && !(directory.expires_at && Date.parse(directory.expires_at) <= now)
    ? directory
    : undefined;

/** A directory that exists (not deleted, not expired), or 404. */
export function liveDirectory(store: CloudStore, id: string): Directory {
  const directory = live(store.directories.get(id));
  if (!directory) throw notFound(`Directory ${id}`);
  return directory;
}

/** The files of a directory that are not deleted, oldest first. */
export const filesOf = (store: CloudStore, directoryId: string) =>
  store.directoryFiles
    .all()
    .filter((file) => file.directory_id === directoryId && !file.deleted_at)
    .sort((a, b) => a.created_at.localeCompare(b.created_at));

const metadataSchema = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]),
);

export function directoryRoutes(app: express.Express, deps: DirectoryDeps): void {
  const { store, paginate } = deps;
  const base = '/api/v1/beta/directories';

  app.post(
    base,
    asyncRoute(async (req, res) => {
      const body = parseOr422(
        z.object({
          name: z.string().min(1),
          description: z.string().nullish(),
          type: z.enum(['ephemeral', 'user']).default('user'),
          expires_at: z.iso.datetime({ offset: true }).nullish(),
          system_metadata: z.record(z.string(), z.unknown()).nullish(),
        }),
        req.body,
      );
      const now = new Date().toISOString();
      const directory: Directory = {
        id: `dir-${randomUUID()}`,
        name: body.name,
        project_id: PROJECT_ID,
        description: body.description ?? null,
        type: body.type,
        // An ephemeral directory without an expiry is kept for a day.
        expires_at:
          body.expires_at ??
          (body.type === 'ephemeral' ? new Date(Date.now() + 24 * 3600_000).toISOString() : null),
        system_metadata: body.system_metadata ?? null,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      await store.directories.save(directory);
      res.json(directory);
    }),
  );

  app.get(base, (req, res) => {
    const types = ([] as unknown[]).concat(req.query.types ?? [], req.query.type ?? []).map(String);
    const includeDeleted = req.query.include_deleted === 'true';
    const items = store.directories
      .all()
      .filter(
        (d) =>
          (includeDeleted || live(d)) &&
          (!req.query.name || d.name === String(req.query.name)) &&
          (!types.length || types.includes(d.type)),
      )
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    res.json(paginate(items, req.query));
  });

  app.get(`${base}/:id`, (req, res) => {
    res.json(liveDirectory(store, req.params.id));
  });

  app.patch(
    `${base}/:id`,
    asyncRoute(async (req, res) => {
      const directory = liveDirectory(store, String(req.params.id));
      const body = parseOr422(
        z.object({ name: z.string().min(1).nullish(), description: z.string().nullish() }),
        req.body,
      );
      const updated: Directory = {
        ...directory,
        ...(body.name ? { name: body.name } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        updated_at: new Date().toISOString(),
      };
      await store.directories.save(updated);
      res.json(updated);
    }),
  );

  app.delete(
    `${base}/:id`,
    asyncRoute(async (req, res) => {
      const directory = liveDirectory(store, String(req.params.id));
      await store.directories.save({ ...directory, deleted_at: new Date().toISOString() });
      res.status(204).end();
    }),
  );

  async function addFile(
    directory: Directory,
    file: StoredFile,
    input: {
      display_name?: string | null;
      metadata?: DirectoryFile['metadata'] | null;
      unique_id?: string | null;
    },
  ) {
    const now = new Date().toISOString();
    const record: DirectoryFile = {
      id: `dfl-${randomUUID()}`,
      directory_id: directory.id,
      display_name: input.display_name ?? file.name,
      project_id: PROJECT_ID,
      unique_id: input.unique_id ?? file.external_file_id ?? input.display_name ?? file.name,
      file_id: file.id,
      metadata: input.metadata ?? {},
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    await store.directoryFiles.save(record);
    return record;
  }

  app.post(
    `${base}/:id/files`,
    asyncRoute(async (req, res) => {
      const directory = liveDirectory(store, String(req.params.id));
      const body = parseOr422(
        z.object({
          file_id: z.string().min(1),
          display_name: z.string().nullish(),
          metadata: metadataSchema.nullish(),
        }),
        req.body,
      );
      const file = store.files.get(body.file_id);
      if (!file) throw notFound(`File ${body.file_id}`);
      res.json(await addFile(directory, file, body));
    }),
  );

  app.post(
    `${base}/:id/files/upload`,
    asyncRoute(async (req, res) => {
      const directory = liveDirectory(store, String(req.params.id));
      const upload = await deps.readUpload(req, 'upload_file');
      res.locals.multipartFields = { ...upload.fields, upload_file: upload.file?.name };
      if (!upload.file)
        throw new HttpError(422, [{ loc: ['body', 'upload_file'], msg: 'Field required', type: 'missing' }]);
      const external = upload.fields.external_file_id ?? null;
      const file = await deps.storeFile(upload.file, external);
      res.json(
        await addFile(directory, file, {
          display_name: upload.fields.display_name ?? upload.file.name,
          unique_id: external,
        }),
      );
    }),
  );

  app.get(`${base}/:id/files`, (req, res) => {
    liveDirectory(store, req.params.id);
    const q = req.query;
    const items = filesOf(store, req.params.id).filter(
      (f) =>
        (!q.display_name || f.display_name === String(q.display_name)) &&
        (!q.display_name_contains || f.display_name.includes(String(q.display_name_contains))) &&
        (!q.file_id || f.file_id === String(q.file_id)) &&
        (!q.unique_id || f.unique_id === String(q.unique_id)),
    );
    res.json(paginate(items, req.query));
  });

  const fileIn = (directoryId: string, id: string) => {
    const file = store.directoryFiles.get(id);
    if (!file || file.deleted_at || file.directory_id !== directoryId) throw notFound(`Directory file ${id}`);
    return file;
  };

  app.get(`${base}/:id/files/:fileId`, (req, res) => {
    liveDirectory(store, req.params.id);
    res.json(fileIn(req.params.id, req.params.fileId));
  });

  app.patch(
    `${base}/:id/files/:fileId`,
    asyncRoute(async (req, res) => {
      liveDirectory(store, String(req.params.id));
      const file = fileIn(String(req.params.id), String(req.params.fileId));
      const body = parseOr422(
        z.object({ display_name: z.string().min(1).nullish(), metadata: metadataSchema.nullish() }),
        req.body,
      );
      const updated: DirectoryFile = {
        ...file,
        ...(body.display_name ? { display_name: body.display_name } : {}),
        ...(body.metadata ? { metadata: body.metadata } : {}),
        updated_at: new Date().toISOString(),
      };
      await store.directoryFiles.save(updated);
      res.json(updated);
    }),
  );

  app.delete(
    `${base}/:id/files/:fileId`,
    asyncRoute(async (req, res) => {
      liveDirectory(store, String(req.params.id));
      const file = fileIn(String(req.params.id), String(req.params.fileId));
      await store.directoryFiles.save({ ...file, deleted_at: new Date().toISOString() });
      res.status(204).end();
    }),
  );
}
