// The admin API's bodies (/api/admin/): a user as operators see it, DRF's page of them, and the
// fields an administrator may change.
import Type from 'typebox'
import { EmailSchema, Text, USER_EXAMPLE, UserSchema } from './auth.js'
import { ref } from './routes.js'

export const ADMIN_USER_EXAMPLE = {
  ...USER_EXAMPLE,
  is_active: true,
  is_staff: false,
  is_superuser: false,
  date_joined: '2026-11-21T09:00:00.000Z',
  last_login: '2026-12-01T08:30:12.345Z',
  mfa_enabled: false
}

export const AdminUserSchema = Type.Object(
  {
    ...UserSchema.properties,
    is_active: Type.Boolean({ description: 'false: the account cannot sign in (it answers like a wrong password) and has no session.' }),
    is_staff: Type.Boolean({ description: 'May use the admin API.' }),
    is_superuser: Type.Boolean({ description: 'May also grant staff and superuser, and change other superusers.' }),
    date_joined: Type.String({ format: 'date-time' }),
    last_login: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    mfa_enabled: Type.Boolean({ description: 'TOTP is on (sign-in asks for a second factor).' })
  },
  { $id: 'AdminUser', description: 'A user as the admin API shows it: as in login, plus the state of the account.', examples: [ADMIN_USER_EXAMPLE] }
)

export const ADMIN_PAGE_EXAMPLE = {
  count: 41,
  next: 'https://auth.example.com/api/admin/users/?page=3&search=doe',
  previous: 'https://auth.example.com/api/admin/users/?search=doe',
  results: [ADMIN_USER_EXAMPLE]
}

export const AdminUserPageSchema = Type.Object(
  {
    count: Type.Integer({ description: 'How many users match, on all pages.' }),
    next: Type.Union([Type.String({ format: 'uri' }), Type.Null()], { description: 'The next page, or null on the last.' }),
    previous: Type.Union([Type.String({ format: 'uri' }), Type.Null()], { description: 'The previous page, or null on the first.' }),
    results: Type.Array(ref(AdminUserSchema))
  },
  {
    $id: 'AdminUserPage',
    description: "DRF's PageNumberPagination.",
    examples: [ADMIN_PAGE_EXAMPLE]
  }
)

export const AdminUserPatchSchema = Type.Object(
  {
    first_name: Type.Optional(Text({ maxLength: 150 })),
    last_name: Type.Optional(Text({ maxLength: 150 })),
    email: Type.Optional(ref(EmailSchema)),
    email_verified: Type.Optional(Type.Boolean()),
    is_active: Type.Optional(Type.Boolean()),
    is_staff: Type.Optional(Type.Boolean()),
    is_superuser: Type.Optional(Type.Boolean())
  },
  { description: 'The fields to change; any other field is ignored.', examples: [{ is_active: false }] }
)

export const adminSchemas = [AdminUserSchema, AdminUserPageSchema]
