// /api/admin: the operators' API over users (list, look up, change, deactivate, delete) and their
// sessions and second factor. Every route needs the Bearer token of a staff user, checked against
// the database on every request (plugins/app/admin), before the body is even validated.
import type { FastifyRequest } from 'fastify'
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError, fieldErrors } from '../../../plugins/app/errors.js'
import { MFA_REQUIRED, PERMISSION_DENIED, type Admin } from '../../../plugins/app/admin/index.js'
import { foldEmail, type UserOrdering } from '../../../plugins/app/users.js'
import { ref, SessionListSchema } from '../../schemas/routes.js'
import { ADMIN_PAGE_EXAMPLE, AdminUserPageSchema, AdminUserPatchSchema, AdminUserSchema, ADMIN_USER_EXAMPLE } from '../../schemas/admin.js'
import { SESSION_EXAMPLE } from '../../schemas/auth.js'
import { authResponses, bad, bearer, describe, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { trimmed } from '../trim.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The administrator of an /api/admin/ request, as the database says now. */
    administrator: Admin | null
  }
}

const PAGE_SIZE = 20
const MAX_PAGE_SIZE = 100
const ORDERINGS = new Set(['date_joined', 'last_login', 'username'])
const notFound = () => new ApiError(404, { detail: 'Not found.' })
const invalidPage = () => new ApiError(404, { detail: 'Invalid page.' })
/** The ids the service makes for sessions (base64url). */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/

const forbidden = describe(Type.Ref('DetailError'), 'Not an active staff user (read from the database on every request); with `ADMIN_REQUIRE_MFA`, a token without a second factor; a staff user acting on a superuser, or granting staff or superuser; or a CSRF failure (cookie mode).', {
  permission: { summary: 'Not staff', value: { detail: PERMISSION_DENIED } },
  mfa: { summary: 'No second factor', value: { detail: MFA_REQUIRED } },
  csrf: { summary: 'CSRF', value: { detail: 'CSRF Failed: CSRF token missing.' } }
})
const missing = describe(Type.Ref('DetailError'), 'No user with this id.', { not_found: { value: { detail: 'Not found.' } } })
const responses = { ...authResponses, 403: forbidden, 503: unavailableResponse }

const UserId = Type.Object({ id: Type.String({ description: 'The user id (a UUID).' }) })

/** django-filter's boolean: true/false (or 1/0); anything else is a 400 naming the field. */
function booleanFilter (name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.toLowerCase()
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw fieldErrors({ [name]: ['Select a valid choice. That choice is not one of the available choices.'] })
}

/** DRF's positive integer parameter: the default when it is not one, the cutoff at most. */
function positiveInt (value: string | undefined, fallback: number, cutoff?: number): number {
  if (value === undefined || !/^\d+$/.test(value)) return fallback
  const n = Number(value)
  if (n <= 0) return fallback
  return cutoff === undefined ? n : Math.min(n, cutoff)
}

/** The absolute URL of another page: this request's URL with `page` replaced (or removed for page 1), keys sorted as Django writes them. */
function pageUrl (request: FastifyRequest, page: number): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`)
  const params = [...url.searchParams.entries()].filter(([key]) => key !== 'page')
  if (page > 1) params.push(['page', String(page)])
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const query = new URLSearchParams(params).toString()
  return `${url.origin}${url.pathname}${query ? `?${query}` : ''}`
}

export default async function adminRoutes (fastify: RouteInstance) {
  const { admin } = fastify
  fastify.decorateRequest('administrator', null)
  fastify.addHook('onRequest', fastify.authenticate)
  // Before the body is validated: whoever may not act learns nothing about what a body should be.
  fastify.addHook('preValidation', async (request) => {
    request.administrator = await admin.authorize(request.auth!, clientOf(request))
  })
  const actor = (request: FastifyRequest) => request.administrator!

  fastify.get('/users/', {
    schema: {
      tags: ['admin'],
      summary: 'List users',
      operationId: 'adminListUsers',
      description:
        "DRF's page of users. `search`: every word (split on spaces and commas) must appear, in any case, in the username, the e-mail or a name. " +
        '`is_active`, `is_staff`: `true` or `false`. `ordering`: `date_joined`, `last_login` or `username` (default), a leading `-` reverses; ' +
        'an unknown one is ignored. `page_size`: at most 100 (default 20). A page past the last is a 404 `Invalid page.`',
      security: bearer,
      querystring: Type.Object({
        search: Type.Optional(Type.String({ maxLength: 200 })),
        is_active: Type.Optional(Type.String()),
        is_staff: Type.Optional(Type.String()),
        ordering: Type.Optional(Type.String()),
        page: Type.Optional(Type.String({ description: 'A page number from 1, or `last`.' })),
        page_size: Type.Optional(Type.String())
      }),
      response: {
        200: describe(ref(AdminUserPageSchema), 'One page of users.', { page: { value: ADMIN_PAGE_EXAMPLE } }),
        400: bad('A filter that is not a boolean.', { is_active: ['Select a valid choice. That choice is not one of the available choices.'] }),
        ...responses,
        404: describe(Type.Ref('DetailError'), 'A page number that is not one, or past the last page.', { invalid_page: { value: { detail: 'Invalid page.' } } })
      }
    },
    handler: async (request) => {
      const q = request.query
      const terms = (q.search ?? '').replace(/\0/g, '').split(/[\s,]+/).filter(Boolean)
      const raw = (q.ordering ?? '').split(',')[0]!.trim()
      const descending = raw.startsWith('-')
      const field = descending ? raw.slice(1) : raw
      const ordering = (ORDERINGS.has(field) ? field : 'username') as UserOrdering
      const limit = positiveInt(q.page_size, PAGE_SIZE, MAX_PAGE_SIZE)
      const filters = { terms, isActive: booleanFilter('is_active', q.is_active), isStaff: booleanFilter('is_staff', q.is_staff), ordering, descending: ORDERINGS.has(field) && descending, limit }
      let page = 1
      if (q.page !== undefined && q.page !== 'last') {
        // More digits than any page could have is no page (and no offset past what PostgreSQL counts in).
        if (!/^\d{1,9}$/.test(q.page) || Number(q.page) < 1) throw invalidPage()
        page = Number(q.page)
      }
      let result = await admin.listUsers({ ...filters, offset: (page - 1) * limit })
      const pages = Math.max(1, Math.ceil(result.count / limit))
      if (q.page === 'last' && pages > 1) {
        page = pages
        result = await admin.listUsers({ ...filters, offset: (page - 1) * limit })
      }
      if (page > pages) throw invalidPage()
      return {
        count: result.count,
        next: page < pages ? pageUrl(request, page + 1) : null,
        previous: page > 1 ? pageUrl(request, page - 1) : null,
        results: result.results
      }
    }
  })

  fastify.get('/users/:id/', {
    schema: {
      tags: ['admin'],
      summary: 'Look a user up',
      operationId: 'adminGetUser',
      security: bearer,
      params: UserId,
      response: { 200: describe(ref(AdminUserSchema), 'The user.', { user: { value: ADMIN_USER_EXAMPLE } }), ...responses, 404: missing }
    },
    handler: async (request) => (await admin.getUser(request.params.id)) ?? Promise.reject(notFound())
  })

  fastify.patch('/users/:id/', {
    schema: {
      tags: ['admin'],
      summary: "Change a user's account",
      operationId: 'adminUpdateUser',
      description:
        'Any of `first_name`, `last_name`, `email`, `email_verified`, `is_active`, `is_staff`, `is_superuser`; other fields are ignored. ' +
        'A new e-mail is unverified unless `email_verified` says otherwise. `is_active: false` revokes every session at once (access tokens already issued ' +
        'stop working) and the user\'s login then answers like a wrong password. `is_staff` and `is_superuser` only by a superuser, and a superuser\'s account only by a superuser.',
      security: bearer,
      params: UserId,
      body: AdminUserPatchSchema,
      response: {
        200: describe(ref(AdminUserSchema), 'The user as it is now.', { changed: { value: { ...ADMIN_USER_EXAMPLE, is_active: false } } }),
        400: bad('An invalid field, or an e-mail another account has.', { email: ['A user with that email already exists.'] }),
        ...responses,
        404: missing
      }
    },
    preValidation: trimmed(['first_name', 'last_name', 'email']),
    handler: async (request) => {
      const { email } = request.body
      if (email !== undefined && foldEmail(email).length > 254) throw fieldErrors({ email: ['Ensure this field has no more than 254 characters.'] })
      return (await admin.updateUser(actor(request), request.params.id, request.body, clientOf(request))) ?? Promise.reject(notFound())
    }
  })

  fastify.delete('/users/:id/', {
    schema: {
      tags: ['admin'],
      summary: 'Delete a user',
      operationId: 'adminDeleteUser',
      description: 'As account deletion: every session is revoked at once, and the username and e-mail can be registered again.',
      security: bearer,
      params: UserId,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...responses, 404: missing }
    },
    handler: async (request, reply) => {
      if (!(await admin.deleteUser(actor(request), request.params.id, clientOf(request)))) throw notFound()
      return reply.code(204).send(null)
    }
  })

  fastify.get('/users/:id/sessions/', {
    schema: {
      tags: ['admin'],
      summary: "List a user's sessions",
      operationId: 'adminListSessions',
      description: 'As the user sees them (`current` is always false here).',
      security: bearer,
      params: UserId,
      response: { 200: describe(SessionListSchema, 'The live sessions, newest first.', { sessions: { value: [{ ...SESSION_EXAMPLE, current: false }] } }), ...responses, 404: missing }
    },
    handler: async (request) => (await admin.sessions(request.params.id)) ?? Promise.reject(notFound())
  })

  fastify.delete('/users/:id/sessions/:sid/', {
    schema: {
      tags: ['admin'],
      summary: "Revoke one of a user's sessions",
      operationId: 'adminRevokeSession',
      description: "Signs that device out: the session's access and refresh tokens stop working at once.",
      security: bearer,
      params: Type.Object({ id: Type.String({ description: 'The user id.' }), sid: Type.String({ description: 'The session id.' }) }),
      response: { 204: { description: 'Revoked.', type: 'null' }, ...responses, 404: describe(Type.Ref('DetailError'), 'No such user, or not a live session of theirs.', { not_found: { value: { detail: 'Not found.' } } }) }
    },
    handler: async (request, reply) => {
      const { id, sid } = request.params
      if (!SESSION_ID.test(sid) || !(await admin.revokeSession(actor(request), id, sid, clientOf(request)))) throw notFound()
      return reply.code(204).send(null)
    }
  })

  const action = (url: string, operationId: string, summary: string, description: string, message: string, run: (a: Admin, id: string, request: FastifyRequest) => Promise<boolean | number | null>) =>
    fastify.post(url, {
      schema: {
        tags: ['admin'],
        summary,
        operationId,
        description,
        security: bearer,
        params: UserId,
        response: { 200: describe(Type.Object({ detail: Type.String() }), 'Done.', { done: { value: { detail: message } } }), ...responses, 404: missing }
      },
      handler: async (request) => {
        const done = await run(actor(request), request.params.id, request)
        if (done === false || done === null) throw notFound()
        return { detail: message }
      }
    })

  action('/users/:id/logout-all/', 'adminLogoutAll', "End all of a user's sessions", 'Every session of the user is revoked at once.', 'Successfully logged out of all sessions', (a, id, request) =>
    admin.logoutAll(a, id, clientOf(request)))
  action('/users/:id/password-reset/', 'adminPasswordReset', 'Send a user the password reset e-mail', 'The e-mail a reset request sends, with its link, to the user\'s address.', 'Password reset e-mail has been sent.', (a, id, request) =>
    admin.sendPasswordReset(a, id, clientOf(request)))
  action('/users/:id/mfa/reset/', 'adminResetMfa', "Reset a user's second factor", 'For a lost phone: TOTP is turned off, the recovery codes are removed and every session is revoked. Passkeys stay.', 'Two-factor authentication has been reset.', (a, id, request) =>
    admin.resetMfa(a, id, clientOf(request)))
}
