// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOMMU_IOAS_* ioctls. Each handler checks its arguments, looks up
 * the objects it needs, asks the io_pagetable layer to do the work and
 * answers userspace; none touches the IOVA space directly.
 *
 * User values are 64 bits wide; anything that does not fit an unsigned
 * long is refused with EOVERFLOW before it reaches the io_pagetable.
 */
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/* Does a 64-bit user value fit the kernel's unsigned long IOVA type? */
static bool iommufd_fits_ulong(u64 val)
{
	return val < ULONG_MAX;
}

/* Look up an IOAS for an ioctl, saying which ID was wrong. */
static struct iommufd_ioas *iommufd_ioas_get(struct iommufd_ucmd *ucmd, u32 id)
{
	struct iommufd_ioas *ioas = iommufd_ioas_lookup(ucmd->ictx, id);

	if (IS_ERR(ioas))
		iommufd_ucmd_fail(ucmd, PTR_ERR(ioas), "no IOAS with ID %u", id);
	return ioas;
}

void iommufd_ioas_free(struct iommufd_object *obj)
{
	struct iommufd_ioas *ioas = container_of(obj, struct iommufd_ioas, obj);

	/* Every HWPT holds a reference, so none is left by now. */
	WARN_ON(!list_empty(&ioas->hwpt_list));
	iopt_destroy_table(&ioas->iopt);
	mutex_destroy(&ioas->mutex);
}

/**
 * iommufd_ioas_show() - an IOAS's fdinfo fields
 * @m: the fdinfo file
 * @obj: the IOAS, referenced
 *
 * Context: takes the IOAS's locks one at a time.
 */
void iommufd_ioas_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_ioas *ioas = container_of(obj, struct iommufd_ioas, obj);
	unsigned long hwpts = 0, accesses = 0, index;
	struct iommufd_hw_pagetable *hwpt;
	void *entry;

	iopt_show(m, &ioas->iopt);
	mutex_lock(&ioas->mutex);
	list_for_each_entry(hwpt, &ioas->hwpt_list, ioas_item)
		hwpts++;
	mutex_unlock(&ioas->mutex);
	mutex_lock(&ioas->iopt.access_lock);
	xa_for_each(&ioas->iopt.accesses, index, entry)
		accesses++;
	mutex_unlock(&ioas->iopt.access_lock);
	seq_printf(m, " hwpts=%lu accesses=%lu large_pages=%d", hwpts,
		   accesses, !READ_ONCE(ioas->iopt.disable_large_pages));
}

/**
 * iommufd_ioas_alloc() - make an empty IOAS
 * @ictx: the context that will own it
 *
 * Return: the IOAS, unpublished: the caller publishes it or takes it back
 * with iommufd_object_unwind(); or ERR_PTR(-ENOMEM).
 */
struct iommufd_ioas *iommufd_ioas_alloc(struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas;

	ioas = iommufd_object_alloc(ictx, struct iommufd_ioas,
				    IOMMUFD_OBJ_IOAS);
	if (IS_ERR(ioas))
		return ioas;
	iopt_init_table(&ioas->iopt, &ictx->usage);
	mutex_init(&ioas->mutex);
	iopt_pin_may_wait_for_mutex(&ioas->mutex);
	INIT_LIST_HEAD(&ioas->hwpt_list);
	return ioas;
}

int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_alloc *cmd = ucmd->args;
	struct iommufd_ioas *ioas;

	if (cmd->flags)
		return -EOPNOTSUPP;

	ioas = iommufd_ioas_alloc(ucmd->ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	cmd->out_ioas_id = ioas->obj.id;
	return iommufd_ucmd_reply_publish(ucmd, &ioas->obj, sizeof(*cmd));
}

int iommufd_ioas_ranges_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_iova_ranges *cmd = ucmd->args;
	struct iommu_iova_range small[4], *ranges = small;
	struct iommufd_ioas *ioas;
	unsigned long start, last, from = 0;
	u32 max_iovas = cmd->num_iovas;
	u32 count = 0, room;
	int rc = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	ioas = iommufd_ioas_lookup(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	/*
	 * The ranges are gathered under the table's lock and copied out
	 * after it, and the IOAS, are let go: a copy to user memory may wait
	 * for userspace. There is a usable range before each reservation
	 * and one after the last, which bounds the buffer.
	 */
	down_read(&ioas->iopt.iova_rwsem);
	room = min_t(unsigned long, max_iovas,
		     iopt_count_reserved_spans(&ioas->iopt) + 1);
	/* A VMM asks once or twice, for a handful of ranges. */
	if (room > ARRAY_SIZE(small)) {
		ranges = kvcalloc(room, sizeof(*ranges),
				  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!ranges)
			rc = -ENOMEM;
	}
	while (!rc && iopt_find_usable_span(&ioas->iopt, from, &start, &last)) {
		if (count < room) {
			ranges[count].start = start;
			ranges[count].last = last;
		}
		count++;
		if (last == ULONG_MAX)
			break;
		from = last + 1;
	}
	cmd->num_iovas = count;
	cmd->out_iova_alignment = ioas->iopt.iova_alignment;
	up_read(&ioas->iopt.iova_rwsem);
	iommufd_put_object(&ioas->obj);
	if (rc)
		return rc;

	if (copy_to_user(u64_to_user_ptr(cmd->allowed_iovas), ranges,
			 min(count, room) * sizeof(*ranges)))
		rc = -EFAULT;
	if (ranges != small)
		kvfree(ranges);
	if (!rc)
		rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	if (!rc && count > max_iovas)
		rc = -EMSGSIZE;
	return rc;
}

/*
 * The @num ranges at @uranges, read into a kvmalloc()ed array, or NULL for
 * none. The array grows as the ranges are read: sized by the count alone,
 * it could be 2 GiB, zeroed, before a first range turned out unreadable.
 */
static struct iopt_allowed *
iommufd_ioas_read_allowed(const struct iommu_iova_range __user *uranges,
			  u32 num)
{
	struct iopt_allowed *allowed = NULL, *grown;
	size_t room = 0, i;
	int rc;

	for (i = 0; i != num; i++) {
		struct iommu_iova_range range;

		if (i == room) {
			size_t want = min_t(size_t, num,
					    max_t(size_t, 64, 2 * room));

			grown = kvrealloc(allowed, room * sizeof(*allowed),
					  want * sizeof(*allowed),
					  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
			if (!grown) {
				rc = -ENOMEM;
				goto err_free;
			}
			allowed = grown;
			room = want;
		}
		/* There may be millions. */
		cond_resched();
		if (copy_from_user(&range, &uranges[i], sizeof(range))) {
			rc = -EFAULT;
			goto err_free;
		}
		if (range.start > ULONG_MAX || range.last > ULONG_MAX) {
			rc = -EOVERFLOW;
			goto err_free;
		}
		allowed[i].start = range.start;
		allowed[i].last = range.last;
	}
	return allowed;

err_free:
	kvfree(allowed);
	return ERR_PTR(rc);
}

int iommufd_ioas_allow_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_allow_iovas *cmd = ucmd->args;
	struct iopt_allowed *allowed;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	allowed = iommufd_ioas_read_allowed(u64_to_user_ptr(cmd->allowed_iovas),
					    cmd->num_iovas);
	if (IS_ERR(allowed))
		return PTR_ERR(allowed);

	/* Looked up only now: nothing is held while user memory is read. */
	ioas = iommufd_ioas_get(ucmd, cmd->ioas_id);
	if (IS_ERR(ioas)) {
		rc = PTR_ERR(ioas);
		goto out_free;
	}
	rc = iopt_set_allowed(&ioas->iopt, allowed, cmd->num_iovas,
			      ucmd->reason);
	if (!rc)
		allowed = NULL;
	iommufd_put_object(&ioas->obj);
out_free:
	kvfree(allowed);
	return rc;
}

/*
 * Userspace cannot flush CPU caches for a device, so every mapping is
 * cache coherent; binding refuses devices whose IOMMU cannot enforce that.
 */
static int iommufd_map_flags_to_prot(u32 flags)
{
	int prot = IOMMU_CACHE;

	if (flags & IOMMU_IOAS_MAP_WRITEABLE)
		prot |= IOMMU_WRITE;
	if (flags & IOMMU_IOAS_MAP_READABLE)
		prot |= IOMMU_READ;
	return prot;
}

#define IOMMUFD_MAP_ACCESS (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)
#define IOMMUFD_MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMUFD_MAP_ACCESS)

/*
 * What MAP, MAP_FILE and COPY ask of their flags and of the IOVA and
 * length they put in the table, with upstream's errnos in its order.
 */
static int iommufd_check_map_cmd(u32 flags, u64 iova, u64 length)
{
	if (flags & ~IOMMUFD_MAP_FLAGS)
		return -EOPNOTSUPP;
	if (!iommufd_fits_ulong(iova) || !iommufd_fits_ulong(length))
		return -EOVERFLOW;
	if (!(flags & IOMMUFD_MAP_ACCESS))
		return -EINVAL;
	return 0;
}

int iommufd_ioas_map_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_map *cmd = ucmd->args;
	unsigned long iova = cmd->iova;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	rc = iommufd_check_map_cmd(cmd->flags, cmd->iova, cmd->length);
	if (rc)
		return rc;

	ioas = iommufd_ioas_get(ucmd, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	rc = iopt_map_user_pages(&ioas->iopt, &iova,
				 u64_to_user_ptr(cmd->user_va), cmd->length,
				 iommufd_map_flags_to_prot(cmd->flags),
				 cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA,
				 ucmd->ictx->account_mode, ucmd->reason);
	iommufd_put_object(&ioas->obj);
	if (rc)
		return rc;

	cmd->iova = iova;
	return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
}

int iommufd_ioas_map_file_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_map_file *cmd = ucmd->args;
	unsigned long iova = cmd->iova;
	struct iommufd_ioas *ioas;
	struct file *file;
	int rc;

	rc = iommufd_check_map_cmd(cmd->flags, cmd->iova, cmd->length);
	if (rc)
		return rc;

	ioas = iommufd_ioas_get(ucmd, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	file = fget(cmd->fd);
	if (!file) {
		rc = -EBADF;
		goto out_put;
	}
	rc = iopt_map_file_pages(&ioas->iopt, &iova, file, cmd->start,
				 cmd->length,
				 iommufd_map_flags_to_prot(cmd->flags),
				 cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA,
				 ucmd->ictx->account_mode, ucmd->reason);
	fput(file);
out_put:
	iommufd_put_object(&ioas->obj);
	if (rc)
		return rc;

	cmd->iova = iova;
	return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
}

int iommufd_ioas_copy_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_copy *cmd = ucmd->args;
	struct iommufd_ioas *src_ioas, *dst_ioas;
	unsigned long iova = cmd->dst_iova;
	LIST_HEAD(pieces);
	int rc;

	/* Test kernels only: a source IOVA in syzkaller's form. */
	iommufd_test_syz_copy_src(ucmd, cmd->src_ioas_id, &cmd->src_iova,
				  &cmd->flags);
	rc = iommufd_check_map_cmd(cmd->flags, cmd->dst_iova, cmd->length);
	if (!rc && !iommufd_fits_ulong(cmd->src_iova))
		rc = -EOVERFLOW;
	if (rc)
		return rc;

	src_ioas = iommufd_ioas_get(ucmd, cmd->src_ioas_id);
	if (IS_ERR(src_ioas))
		return PTR_ERR(src_ioas);
	rc = iopt_get_pieces(&src_ioas->iopt, cmd->src_iova, cmd->length,
			     &pieces);
	iommufd_put_object(&src_ioas->obj);
	if (rc == -ENOENT)
		iommufd_ucmd_fail(ucmd, rc,
				  "the source IOVA 0x%llx-0x%llx is not mapped without gaps in IOAS %u",
				  cmd->src_iova, cmd->src_iova + cmd->length - 1,
				  cmd->src_ioas_id);
	if (rc)
		goto out_free;

	dst_ioas = iommufd_ioas_get(ucmd, cmd->dst_ioas_id);
	if (IS_ERR(dst_ioas)) {
		rc = PTR_ERR(dst_ioas);
		goto out_free;
	}
	rc = iopt_map_pieces(&dst_ioas->iopt, &pieces, cmd->length, &iova,
			     iommufd_map_flags_to_prot(cmd->flags),
			     cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA,
			     ucmd->reason);
	iommufd_put_object(&dst_ioas->obj);
	if (!rc) {
		cmd->dst_iova = iova;
		rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	}
out_free:
	iopt_free_pieces(&pieces);
	return rc;
}

int iommufd_ioas_unmap_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_unmap *cmd = ucmd->args;
	unsigned long unmapped = 0;
	struct iommufd_ioas *ioas;
	int rc;

	ioas = iommufd_ioas_get(ucmd, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	if (!cmd->iova && cmd->length == U64_MAX) {
		/* The one way to say "everything" that no range can say. */
		rc = iopt_unmap_everything(&ioas->iopt, &unmapped);
	} else if (!iommufd_fits_ulong(cmd->iova) ||
		   !iommufd_fits_ulong(cmd->length)) {
		rc = -EOVERFLOW;
	} else {
		rc = iopt_unmap_iova(&ioas->iopt, cmd->iova, cmd->length,
				     &unmapped, ucmd->reason);
		if (!rc && !unmapped)
			rc = iommufd_ucmd_fail(ucmd, -ENOENT,
					       "nothing is mapped at IOVA 0x%llx-0x%llx",
					       cmd->iova,
					       cmd->iova + cmd->length - 1);
	}
	iommufd_put_object(&ioas->obj);
	if (rc)
		return rc;

	cmd->length = unmapped;
	return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
}

/**
 * iommufd_ioas_option() - IOMMU_OPTION for options that belong to an IOAS
 * @ucmd: the ioctl, with a struct iommu_option
 *
 * Return: 0, -ENOENT for a bad IOAS ID, -EINVAL for a bad value,
 * -EOPNOTSUPP for a bad option or operation, -EFAULT, or an error of
 * iopt_set_large_pages().
 */
int iommufd_ioas_option(struct iommufd_ucmd *ucmd)
{
	struct iommu_option *cmd = ucmd->args;
	struct iommufd_ioas *ioas;
	int rc = 0;

	ioas = iommufd_ioas_lookup(ucmd->ictx, cmd->object_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	if (cmd->option_id != IOMMU_OPTION_HUGE_PAGES) {
		rc = -EOPNOTSUPP;
	} else if (cmd->op == IOMMU_OPTION_OP_GET) {
		cmd->val64 = !READ_ONCE(ioas->iopt.disable_large_pages);
		iommufd_put_object(&ioas->obj);
		return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	} else if (cmd->op != IOMMU_OPTION_OP_SET) {
		rc = -EOPNOTSUPP;
	} else if (cmd->val64 > 1) {
		rc = -EINVAL;
	} else {
		rc = iopt_set_large_pages(&ioas->iopt, cmd->val64);
	}
	iommufd_put_object(&ioas->obj);
	return rc;
}
