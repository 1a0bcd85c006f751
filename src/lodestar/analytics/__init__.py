"""Operations analytics (issue 8): sessions, funnels, retention, lifecycle, paths, channel KPIs,
AARRR / RARRA, CX and journey maps — over the workspace's events in the analytical store."""
