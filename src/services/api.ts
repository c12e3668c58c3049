/**
 * SPDX-FileCopyrightText: 2026 video_converter_fm contributors
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * Every call the page makes to the ExApp, through AppAPI's proxy. The only module that knows the REST paths.
 */
import axios from '@nextcloud/axios'
import { getLanguage } from '@nextcloud/l10n'
import { generateUrl } from '@nextcloud/router'
import { pageConfig } from './config.ts'

// The ExApp writes job errors, notes and skip reasons in the language a request names. AppAPI's proxy passes
// the browser's Accept-Language on as it is, which need not be the language the user chose in Nextcloud: name
// the Nextcloud one, so the messages match the page around them.
axios.interceptors.request.use((config) => {
	config.headers.set('Accept-Language', getLanguage().replace('_', '-'))
	return config
})

export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled'

export interface Target {
	id: string
	label: string
	extension: string | null
	same_format: boolean
	kind: 'video' | 'audio' | string
}

export interface TargetList {
	user: string
	targets: Target[]
	options: { quality: string[], max_height: (number | null)[], audio_bitrate: string }
}

export interface MediaInfo {
	duration: number | null
	video_codec: string | null
	audio_codec: string | null
	width: number | null
	height: number | null
}

export interface ChosenFile {
	file_id: number
	name: string
	path: string
	size: number
	mime: string
	media: MediaInfo | null
	targets: Record<string, { fast_copy: boolean, output_name: string }>
}

export interface SkippedFile {
	file_id: number | null
	name: string
	reason: string
}

export interface FileChoice {
	files: ChosenFile[]
	skipped: SkippedFile[]
}

export interface JobOptions {
	quality?: string
	max_height?: number | null
	audio_bitrate?: string | null
}

export interface BatchResult {
	jobs: { job_id: number, file_id: number, name: string }[]
	skipped: SkippedFile[]
}

export interface FileRef {
	file_id: number | null
	path: string
	name?: string
}

export interface Job {
	id: number
	status: JobStatus
	progress: number
	target: string
	options: JobOptions
	source: FileRef
	output: FileRef | null
	created_at: string
	started_at: string | null
	finished_at: string | null
	error_message: string | null
	retry_count: number
	notes: string[]
	eta_seconds?: number | null
}

export interface JobList {
	items: Job[]
	total: number
	limit: number
	offset: number
}

/** An error the ExApp (or the proxy) answered, with its message for the user. */
export class ApiError extends Error {

	constructor(message: string, public readonly status: number | null) {
		super(message)
		this.name = 'ApiError'
	}

}

/** The proxy prefix, resolved on first use (the initial state is in the page by then). */
function api(path: string): string {
	return generateUrl(pageConfig().api_base) + path
}

/** The ExApp's `{"error": "…"}` (already in the user's language), or null for another kind of failure. */
function toApiError(error: unknown): ApiError {
	const response = (error as { response?: { status: number, data?: unknown } }).response
	const data = response?.data as { error?: unknown, detail?: unknown } | undefined
	const message = typeof data?.error === 'string' ? data.error : (typeof data?.detail === 'string' ? data.detail : '')
	return new ApiError(message, response?.status ?? null)
}

async function call<T>(request: () => Promise<{ data: T }>): Promise<T> {
	try {
		return (await request()).data
	} catch (error) {
		throw toApiError(error)
	}
}

export function getTargets(): Promise<TargetList> {
	return call(() => axios.get<TargetList>(api(`/api/targets`)))
}

export function getFiles(ids: number[]): Promise<FileChoice> {
	return call(() => axios.get<FileChoice>(api(`/api/files`), { params: { ids: ids.join(',') } }))
}

export function createJobs(fileIds: number[], target: string, options: JobOptions): Promise<BatchResult> {
	return call(() => axios.post<BatchResult>(api(`/api/jobs/batch`), { file_ids: fileIds, target, options }))
}

/**
 * The user's jobs. With the ETag of the previous answer, an unchanged list costs the ExApp a 304 and
 * this resolves to null ("nothing new").
 */
export async function listJobs(
	query: { status?: JobStatus | '', limit?: number, offset?: number },
	etag: string | null,
): Promise<{ list: JobList, etag: string | null } | null> {
	try {
		const params: Record<string, string | number> = { limit: query.limit ?? 50, offset: query.offset ?? 0 }
		if (query.status) {
			params.status = query.status
		}
		const response = await axios.get<JobList>(api(`/api/jobs`), {
			params,
			headers: etag ? { 'If-None-Match': etag } : {},
			// a 304 is an answer, not an error
			validateStatus: (status) => (status >= 200 && status < 300) || status === 304,
		})
		if (response.status === 304) {
			return null
		}
		return { list: response.data, etag: (response.headers.etag as string | undefined) ?? null }
	} catch (error) {
		throw toApiError(error)
	}
}

export function cancelJob(id: number): Promise<Job> {
	return call(() => axios.post<Job>(api(`/api/jobs/${id}/cancel`)))
}

export function retryJob(id: number): Promise<Job> {
	return call(() => axios.post<Job>(api(`/api/jobs/${id}/retry`)))
}

export async function deleteJob(id: number): Promise<void> {
	await call(() => axios.delete(api(`/api/jobs/${id}`)))
}

/** Where Files shows a file (its folder, the file highlighted). */
export function filesLink(fileId: number): string {
	return generateUrl('/f/{fileId}', { fileId })
}
