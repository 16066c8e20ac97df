-- 0005 a client system can be disabled (udb systems disable): its requests are
-- refused with IPL000004 while its history (reports, certificates, institutions)
-- stays; NULL means enabled.

ALTER TABLE client_systems ADD COLUMN disabled_at {timestamp};
